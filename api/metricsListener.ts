/**
 * The API's `GET /metrics` on a listener of its own (API_METRICS_HOST:API_METRICS_PORT, loopback by
 * default), so the public API port never serves it: Prometheus scrapes it from inside the network.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsListener {
  url: string;
  close(): Promise<void>;
}

/** Undefined when `port` is 0 (turned off). A port already taken is an error naming API_METRICS_PORT. */
export async function startApiMetricsListener(
  registry: Registry,
  opts: { port: number; host: string },
): Promise<MetricsListener | undefined> {
  if (opts.port === 0) return undefined;
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found; metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`metrics failed: ${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new Error(
          `API_METRICS_PORT: cannot listen on ${opts.host}:${opts.port} (${err.message}); set another port or 0 (off)`,
        ),
      ),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
