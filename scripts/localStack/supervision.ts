/**
 * Keeps one part of the local stack running: its first start must succeed (or the stack stops, showing
 * why); once it has been ready, a part that dies is started again after a backoff (1 s, doubling up to
 * 30 s, back to 1 s once it has stayed up for a minute), each death and return logged. Stopping cancels
 * a pending restart and stops whatever runs or is starting.
 */
import type { Log } from './processes';

export const RESTART_INITIAL_MS = 1_000;
export const RESTART_MAX_MS = 30_000;
/** Up this long, the next death restarts it after RESTART_INITIAL_MS again. */
export const RESTART_RESET_AFTER_MS = 60_000;
/** How long a stop waits for a start under way (PostgreSQL, Temporal) to finish before giving up. */
const START_WAIT_ON_STOP_MS = 20_000;

/** One run of a part: a process (or server) that has been started. */
export interface RunningPart {
  /** Resolves when it has ended, with a few words on how (`killed by SIGKILL`, `exit code 1`). */
  exited: Promise<string>;
  /** Ends it cleanly, forcing after `graceMs`. Resolves at once if it has already gone. */
  stop(graceMs: number): Promise<void>;
  /** Ends it at once (a second Ctrl-C). */
  kill(): void;
  /** Its last lines of output, shown when it dies. */
  recentOutput?(): string;
}

export interface PartSpec {
  name: string;
  graceMs: number;
  /**
   * Starts one run and resolves with it once it is ready; rejects if it fails first (having ended what it
   * started). `onSpawned` hands over a run before it is ready, so a stop during a slow start ends it.
   * `restart` is true for every start after the first.
   */
  start(opts: { restart: boolean; onSpawned(run: RunningPart): void }): Promise<RunningPart>;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class SupervisedPart {
  /** Times it was started again after dying. */
  restarts = 0;
  private current: RunningPart | undefined;
  private starting: Promise<RunningPart> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private delay = RESTART_INITIAL_MS;
  private stopping = false;

  constructor(
    readonly spec: PartSpec,
    private readonly log: { info: Log; error: Log },
  ) {}

  get name(): string {
    return this.spec.name;
  }

  /** The first start: resolves when it is ready, rejects if it fails (no restart: the stack stops). */
  async start(): Promise<void> {
    const run = await this.launch(false);
    if (this.stopping) return;
    this.watch(run, Date.now());
  }

  /** Stops the current run (or the one starting), and any restart to come. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    const { current, starting } = this;
    this.current = undefined;
    if (current) await current.stop(this.spec.graceMs);
    if (starting) {
      const late = await Promise.race([
        starting.catch(() => undefined),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), START_WAIT_ON_STOP_MS).unref()),
      ]);
      if (late && late !== current) await late.stop(this.spec.graceMs);
    }
  }

  kill(): void {
    this.stopping = true;
    clearTimeout(this.timer);
    this.current?.kill();
  }

  private async launch(restart: boolean): Promise<RunningPart> {
    const starting = this.spec.start({ restart, onSpawned: (run) => (this.current = run) });
    this.starting = starting;
    try {
      const run = await starting;
      this.current = run;
      return run;
    } catch (err) {
      this.current = undefined;
      throw err;
    } finally {
      if (this.starting === starting) this.starting = undefined;
    }
  }

  private watch(run: RunningPart, readyAt: number): void {
    void run.exited.then((how) => {
      if (this.stopping || this.current !== run) return;
      this.current = undefined;
      const upMs = Date.now() - readyAt;
      if (upMs >= RESTART_RESET_AFTER_MS) this.delay = RESTART_INITIAL_MS;
      const tail = run.recentOutput?.().split('\n').slice(-10).join('\n').trim();
      this.log.error(
        `${this.name} exited unexpectedly (${how}) after ${seconds(upMs)} up; restarting it in ${seconds(this.delay)}` +
          (tail ? `. Its last output:\n${tail}` : ''),
      );
      this.scheduleRestart();
    });
  }

  private scheduleRestart(): void {
    const delay = this.delay;
    this.delay = Math.min(this.delay * 2, RESTART_MAX_MS);
    this.timer = setTimeout(() => void this.restart(), delay);
  }

  private async restart(): Promise<void> {
    if (this.stopping) return;
    const n = ++this.restarts;
    const t0 = Date.now();
    this.log.info(`restarting ${this.name} (restart ${n})`);
    let run: RunningPart;
    try {
      run = await this.launch(true);
    } catch (err) {
      if (this.stopping) return;
      this.log.error(`${this.name} did not come back (${messageOf(err)}); trying again in ${seconds(this.delay)}`);
      this.scheduleRestart();
      return;
    }
    if (this.stopping) return;
    this.log.info(`${this.name} is back: ready ${seconds(Date.now() - t0)} after its restart (restart ${n})`);
    this.watch(run, Date.now());
  }
}
