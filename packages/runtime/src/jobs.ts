import type { Logger } from 'pino';

/** Work falls due in `delayMs` (0 or omitted: now); said by the use case that just wrote it. */
export type DueIn = (delayMs?: number) => void;

/** Exponential backoff for retried work: base, 2×base, 4×base … at most `maxMs`, by the attempt about to be made (1, 2, …). */
export function retryDelayMs(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
}

/** retryLater's tries: 0.1 s after the failure, then doubling up to 2 s, for ~25 s in all. */
const RETRY_SOON = { tries: 15, firstMs: 100, maxMs: 2000 };

/**
 * Tries `work` again in the background until it resolves: after `firstMs`, then with backoff up to `maxMs`, at most
 * `tries` times. For a step that just failed because what it needs is away for a moment (a sidecar or a database
 * restarting), so it is done as soon as that is back; a background job stays the net when all tries fail.
 */
export function retryLater(work: () => Promise<unknown>, { tries, firstMs, maxMs } = RETRY_SOON): void {
  void (async () => {
    for (let attempt = 1; attempt <= tries; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs(attempt, firstMs, maxMs)).unref());
      try {
        await work();
        return;
      } catch {
        // Not yet: try again.
      }
    }
  })();
}

/**
 * Background work of a service (expire holds, publish the outbox, move orders on): it runs when work is due, and
 * sleeps otherwise. Every replica runs its own; each job stays correct when several run it at once.
 */
export interface Job {
  name: string;
  /** Does what is due now; resolves how long until more falls due, as far as it knows (undefined: nothing known). */
  run(): Promise<number | undefined>;
  /**
   * The longest sleep: work nobody in this process announced (written by another replica, or by a process that died
   * before it could do it) is found within this long.
   */
  recheckMs: number;
  /** How this process's use cases wake the job early (see DueSignal). */
  signal?: DueSignal;
}

/** How use cases tell a job that they wrote work for it, before and after the job runs. */
export class DueSignal {
  private listener?: (at: number) => void;
  private earliest = Infinity;

  readonly dueIn: DueIn = (delayMs = 0) => {
    const at = Date.now() + delayMs;
    if (this.listener) this.listener(at);
    else this.earliest = Math.min(this.earliest, at);
  };

  listen(listener: (at: number) => void): void {
    this.listener = listener;
    if (this.earliest < Infinity) listener(this.earliest);
  }
}

/** A failed run is tried again after this, doubling up to the job's re-check interval. */
const RETRY_BASE_MS = 1000;
/** A run that left due work (a full batch) is followed at once, but never in a tight loop. */
const MIN_GAP_MS = 10;
/** setTimeout's longest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One job's loop: run, then sleep until the earliest of: its next due work, a wake-up, its re-check interval. */
class JobLoop {
  private timer?: NodeJS.Timeout;
  private plannedAt = Infinity;
  private running?: Promise<void>;
  /** Work announced while a run was under way: it may have been written after the run looked. */
  private dueDuringRun = Infinity;
  private failures = 0;
  private stopped = false;

  constructor(
    readonly job: Job,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.job.signal?.listen((at) => this.dueAt(at));
    // The first run is at start-up: it finds whatever came due while no process was running.
    this.dueAt(Date.now());
  }

  dueAt(at: number): void {
    if (this.stopped) return;
    if (this.running) {
      this.dueDuringRun = Math.min(this.dueDuringRun, at);
      return;
    }
    if (at < this.plannedAt) this.plan(at);
  }

  /** Runs now (after a run under way, if any), for tests that move a clock. */
  async runNow(): Promise<void> {
    while (this.running) await this.running;
    await this.runOnce();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    while (this.running) await this.running;
  }

  private plan(at: number): void {
    clearTimeout(this.timer);
    this.plannedAt = at;
    this.timer = setTimeout(() => void this.runOnce(), Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())));
    this.timer.unref();
  }

  private runOnce(): Promise<void> {
    if (this.running) return this.running;
    clearTimeout(this.timer);
    this.plannedAt = Infinity;
    this.running = this.attempt().then((next) => {
      this.running = undefined;
      const at = Math.min(next, this.dueDuringRun);
      this.dueDuringRun = Infinity;
      if (!this.stopped) this.plan(at);
    });
    return this.running;
  }

  /** One run; resolves when the next should start. */
  private async attempt(): Promise<number> {
    const began = Date.now();
    try {
      const dueInMs = await this.job.run();
      this.failures = 0;
      const next = Date.now() + Math.min(dueInMs ?? Infinity, this.job.recheckMs);
      return Math.max(next, began + MIN_GAP_MS);
    } catch (err) {
      this.failures++;
      this.logger.error({ err, job: this.job.name }, 'background job failed; it runs again');
      return Date.now() + Math.min(this.job.recheckMs, RETRY_BASE_MS * 2 ** (this.failures - 1));
    }
  }
}

/** The running jobs of a service. */
export class Jobs {
  private readonly loops: Map<string, JobLoop>;

  constructor(jobs: Job[], logger: Logger) {
    this.loops = new Map(jobs.map((job) => [job.name, new JobLoop(job, logger)]));
    for (const loop of this.loops.values()) loop.start();
  }

  /** Runs a job now and waits for it (tests that move a clock by days). */
  async runNow(name: string): Promise<void> {
    const loop = this.loops.get(name);
    if (!loop) throw new Error(`no job named ${name}`);
    await loop.runNow();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.loops.values()].map((loop) => loop.stop()));
  }
}
