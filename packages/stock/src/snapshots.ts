export interface SnapshotOptions {
  /** A snapshot older than this is re-read in the background while it is still served. */
  refreshAfterMs: number;
  /** A snapshot older than this is never served: the caller waits for a fresh read. */
  maxAgeMs: number;
}

/** A value as this process read it, and when that read started. */
export interface Snapshot<T> {
  value: T;
  readAt: number;
}

/**
 * What a page shows a crowd, per id, as this process last read it (e.g. a stock's free units from the counter): pages
 * answer from here (one read per id per `refreshAfterMs`, shared by every request), never older than `maxAgeMs`.
 */
export class Snapshots<T> {
  private readonly snapshots = new Map<string, Snapshot<T>>();
  private readonly reading = new Map<string, Promise<void>>();
  /** Bumped by what this process learns first-hand: a read that started before it is stale when it lands. */
  private readonly epochs = new Map<string, number>();

  constructor(
    private readonly read: (id: string) => Promise<T>,
    private readonly options: SnapshotOptions,
  ) {}

  async get(id: string, now = Date.now()): Promise<T> {
    return (await this.entry(id, now)).value;
  }

  /** As `get`, with when the served value was read. */
  async entry(id: string, now = Date.now()): Promise<Snapshot<T>> {
    let snapshot = this.snapshots.get(id);
    while (!snapshot || now - snapshot.readAt >= this.options.maxAgeMs) {
      await this.reread(id);
      snapshot = this.snapshots.get(id);
      now = snapshot?.readAt ?? now;
    }
    if (now - snapshot.readAt >= this.options.refreshAfterMs) this.reread(id).catch(() => undefined);
    return snapshot;
  }

  /** The snapshot held now, however old, without reading. */
  current(id: string): Snapshot<T> | undefined {
    return this.snapshots.get(id);
  }

  /** What this process just learned first-hand (e.g. a take found the counter empty): it wins over reads under way. */
  set(id: string, value: T, now = Date.now()): void {
    this.bump(id);
    this.snapshots.set(id, { value, readAt: now });
  }

  /** Reads it again in the background (unless a read is under way); meanwhile the current snapshot is served. */
  refresh(id: string): void {
    this.reread(id).catch(() => undefined);
  }

  /** It changed here (units came back, a product was edited): the next request reads it again. */
  invalidate(id: string): void {
    this.bump(id);
    this.snapshots.delete(id);
  }

  private bump(id: string): void {
    this.epochs.set(id, (this.epochs.get(id) ?? 0) + 1);
  }

  private reread(id: string): Promise<void> {
    const epoch = this.epochs.get(id) ?? 0;
    const under = this.reading.get(id);
    if (under) return under;
    const startedAt = Date.now();
    const reading = this.read(id).then((value) => {
      if ((this.epochs.get(id) ?? 0) === epoch) this.snapshots.set(id, { value, readAt: startedAt });
    }).finally(() => this.reading.delete(id));
    this.reading.set(id, reading);
    return reading;
  }
}
