/**
 * The Temporal dev server sometimes exits during start-up (its CLI binds internal ports it picked a moment
 * before, and a process starting beside it can take one). startTemporalDevServer starts it again at once,
 * and an error that does reach the caller keeps the head of the server's output, where a panic's cause is.
 * Played with a wrapper around the real CLI that panics on its first start.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../scripts/freePort';
import { startTemporalDevServer } from '../scripts/temporal/devServer';
import { resolveTemporalCli } from '../scripts/temporal/resolveCli';
import { PATIENCE_MS } from './support/patience';

const dir = mkdtempSync(path.join(os.tmpdir(), 'temporal-cli-wrapper-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PANIC = 'panic: listen tcp 127.0.0.1:45678: bind: address already in use';

/** A CLI that panics on its first `n` server starts, then is the real one. */
function panickingCli(real: string, n: number): string {
  const counter = path.join(dir, `starts-${n}`);
  const file = path.join(dir, `temporal-${n}`);
  writeFileSync(
    file,
    `#!/bin/sh
if [ "$1" = "server" ]; then
  count=$(cat "${counter}" 2>/dev/null || echo 0)
  echo $((count + 1)) > "${counter}"
  if [ "$count" -lt ${n} ]; then
    echo "${PANIC}" >&2
    echo "goroutine 1 [running]:" >&2
    exit 2
  fi
fi
exec "${real}" "$@"
`,
  );
  chmodSync(file, 0o755);
  return file;
}

async function withCli<T>(cli: string, run: () => Promise<T>): Promise<T> {
  const before = process.env.TEMPORAL_CLI_PATH;
  process.env.TEMPORAL_CLI_PATH = cli;
  try {
    return await run();
  } finally {
    if (before === undefined) delete process.env.TEMPORAL_CLI_PATH;
    else process.env.TEMPORAL_CLI_PATH = before;
  }
}

describe('starting the Temporal dev server', () => {
  it('starts it again when it exits during start-up, and it then serves', async () => {
    const real = (await resolveTemporalCli(() => undefined)).path;
    const lines: string[] = [];
    const server = await withCli(panickingCli(real, 1), async () =>
      startTemporalDevServer({ port: await freePort(), readyTimeoutMs: PATIENCE_MS, log: (l) => lines.push(l) }),
    );
    try {
      expect(lines.join('\n')).toContain(PANIC);
      expect(lines.join('\n')).toContain('exited during start-up (attempt 1); starting it again');
      expect(server.process.exitCode).toBeNull();
    } finally {
      await server.stop();
    }
  });

  it('gives up after three early exits, with the head of the output in the error', async () => {
    const real = (await resolveTemporalCli(() => undefined)).path;
    const started = withCli(panickingCli(real, 3), async () =>
      startTemporalDevServer({ port: await freePort(), readyTimeoutMs: PATIENCE_MS }),
    );
    await expect(started).rejects.toThrow(PANIC);
  });
});
