export interface SnapshotOptions {
  /** A snapshot older than this is re-read in the background while it is still served. */
  refreshAfterMs: number;
  /** A snapshot older than this is never served: the caller waits for a fresh read. */
  maxAgeMs: number;
}

interface Snapshot {
  available: number;
  readAt: number;
}

/**
 * Units free to sell per stock, as this process last read them from the counter: pages that show stock to a crowd
 * answer from here (one counter read per stock per `refreshAfterMs`, shared by every request), never older than
 * `maxAgeMs`.
 */
export class AvailabilitySnapshots {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly reading = new Map<string, Promise<void>>();
  /** Bumped by what this process learns first-hand: a read that started before it is stale when it lands. */
  private readonly epochs = new Map<string, number>();

  constructor(
    private readonly read: (stockId: string) => Promise<number>,
    private readonly options: SnapshotOptions,
  ) {}

  async available(stockId: string, now = Date.now()): Promise<number> {
    let snapshot = this.snapshots.get(stockId);
    while (!snapshot || now - snapshot.readAt >= this.options.maxAgeMs) {
      await this.reread(stockId);
      snapshot = this.snapshots.get(stockId);
      now = snapshot?.readAt ?? now;
    }
    if (now - snapshot.readAt >= this.options.refreshAfterMs) this.reread(stockId).catch(() => undefined);
    return snapshot.available;
  }

  /** What this process just learned first-hand (a take found the counter empty): it wins over reads under way. */
  set(stockId: string, available: number, now = Date.now()): void {
    this.bump(stockId);
    this.snapshots.set(stockId, { available, readAt: now });
  }

  /** Units came back or changed here: the next request reads the counter. */
  invalidate(stockId: string): void {
    this.bump(stockId);
    this.snapshots.delete(stockId);
  }

  private bump(stockId: string): void {
    this.epochs.set(stockId, (this.epochs.get(stockId) ?? 0) + 1);
  }

  private reread(stockId: string): Promise<void> {
    const epoch = this.epochs.get(stockId) ?? 0;
    const under = this.reading.get(stockId);
    if (under) return under;
    const startedAt = Date.now();
    const reading = this.read(stockId).then((available) => {
      if ((this.epochs.get(stockId) ?? 0) === epoch) this.snapshots.set(stockId, { available, readAt: startedAt });
    }).finally(() => this.reading.delete(stockId));
    this.reading.set(stockId, reading);
    return reading;
  }
}

/**
 * Cache-Control of pages that show a snapshot: caches keep the page but ask again each time, and the answer to a
 * repeat is a 304 from the page's ETag. (`max-age` counts whole seconds, which would double the staleness.)
 */
export const SNAPSHOT_CACHE_CONTROL = 'no-cache';
