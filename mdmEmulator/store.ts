/**
 * Holds the emulator state and writes it to `<dataDir>/state.json` after every change.
 * Writes are synchronous and atomic (temp file + rename) so a crash never leaves a half-written file and
 * two overlapping requests can never interleave their writes.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { emptyState, type EmulatorState } from './types';

export interface Store {
  state: EmulatorState;
  /** Persists the current state (no-op in memory mode). */
  commit(): void;
  replace(state: EmulatorState): void;
  readonly file?: string;
}

export function createStore(dataDir?: string): Store {
  if (!dataDir) return memoryStore();
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'state.json');
  const store: Store = {
    file,
    state: loadState(file),
    commit() {
      const temp = `${file}.${process.pid}.tmp`;
      writeFileSync(temp, JSON.stringify(store.state, null, 2));
      renameSync(temp, file);
    },
    replace(state) {
      store.state = state;
      store.commit();
    },
  };
  return store;
}

function memoryStore(): Store {
  const store: Store = {
    state: emptyState(),
    commit() {},
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
