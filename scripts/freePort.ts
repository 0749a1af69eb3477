import net from 'node:net';

/** Asks the OS for a free loopback port, so two test runs or test files never collide on a fixed one. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Thrown by a probe to stop waiting at once, e.g. when the process it waits for has exited. */
export class StopWaiting extends Error {}

/**
 * Polls `probe` until it resolves or `timeoutMs` passes; the last error explains a time-out. A probe that
 * throws StopWaiting ends the wait with that error at once.
 */
export async function waitUntil(what: string, probe: () => Promise<unknown>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await probe();
      return;
    } catch (err) {
      if (err instanceof StopWaiting) throw err;
      last = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(
    `${what} was not ready after ${timeoutMs} ms: ${(last as Error | undefined)?.message ?? 'no answer'}`,
  );
}
