/**
 * Holds the emulator state and writes it to `<dataDir>/state.json` shortly after a change.
 *
 * The file holds the whole state (every device, job and idempotency record), so writing it after every
 * change cost a fleet run most of the emulator's CPU: a bench of 60 change-users spent ~46 ms of emulator
 * CPU per process, mostly rewriting a 1 MB file 8 times. Changes are now written behind, at most one
 * write per WRITE_BEHIND_MS, and at once on `flush()` (the server's close, so a stop or a restart loses
 * nothing). A process killed outright (SIGKILL) loses at most the changes of the last wait.
 * The wait grows with the state (writeDelayMs): a fleet's state of a few MB takes ~10 ms to write, and
 * writing it every 200 ms was still most of the emulator's CPU in a bench run; the writes now take at
 * most ~2% of one core. The file is compact JSON (indenting it cost a third more time and size).
 * Writes stay synchronous and atomic (temp file + rename): a crash never leaves a half-written file and
 * two writes never interleave.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { emptyState, type EmulatorState } from './types';

export interface Store {
  state: EmulatorState;
  /** Marks the state changed: it is written within writeDelayMs (no-op in memory mode). */
  commit(): void;
  /** Writes a pending change now. */
  flush(): void;
  replace(state: EmulatorState): void;
  readonly file?: string;
}

export function createStore(dataDir?: string): Store {
  if (!dataDir) return memoryStore();
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'state.json');
  let pending: NodeJS.Timeout | undefined;
  let lastWriteMs = 0;
  const store: Store = {
    file,
    state: loadState(file),
    commit() {
      // unref: a pending write must not keep a process alive; whoever stops the emulator flushes it.
      pending ??= setTimeout(() => store.flush(), writeDelayMs(lastWriteMs)).unref();
    },
    flush() {
      if (!pending) return;
      clearTimeout(pending);
      pending = undefined;
      const started = performance.now();
      const temp = `${file}.${process.pid}.tmp`;
      writeFileSync(temp, JSON.stringify(store.state));
      renameSync(temp, file);
      lastWriteMs = performance.now() - started;
    },
    replace(state) {
      store.state = state;
      store.commit();
    },
  };
  return store;
}

/** The shortest wait before a change is written; changes meanwhile share the write. */
export const WRITE_BEHIND_MS = 200;

/** The wait before the next write: 50 times the last write's duration (at most ~2% of a core), at least 200 ms. */
export function writeDelayMs(lastWriteMs: number): number {
  return Math.max(WRITE_BEHIND_MS, Math.ceil(50 * lastWriteMs));
}

function memoryStore(): Store {
  const store: Store = {
    state: emptyState(),
    commit() {},
    flush() {},
    replace(state) {
      store.state = state;
    },
  };
  return store;
}

function loadState(file: string): EmulatorState {
  if (!existsSync(file)) return emptyState();
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as EmulatorState;
  if (parsed.version !== 1) throw new Error(`${file}: unsupported state version ${String(parsed.version)}`);
  return { ...emptyState(), ...parsed };
}
