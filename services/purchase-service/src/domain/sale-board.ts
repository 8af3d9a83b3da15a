import type { Snapshots } from '@flash/stock';
import { attemptKey, type Purchase } from './flash-sale';
import type { PurchaseStore } from './ports';

export interface BoardOptions {
  /**
   * How long a hold's counter take may stay unrecorded (its batch's transaction in flight). Refusals that skip the
   * database wait this long after the sale stops selling, so every hold made before is in the buyer book.
   */
  settleMs: number;
  /** The buyer book of a sale that stopped selling is re-read after this long. */
  refreshAfterMs: number;
}

interface BuyerBook {
  byKey: Map<string, Purchase>;
  /** The newest change seen; the next sync reads from a little before it (commits land out of order). */
  seenUntil?: Date;
  /** When the last completed sync started: it holds every purchase committed before then. */
  syncedAsOf: number;
  syncing?: Promise<void>;
}

/** A change may commit this long after its updated_at was set; syncs re-read that far back. */
const COMMIT_LAG_MS = 5000;

/**
 * What every replica knows about a sale without asking anyone per request: units free (its counter snapshot, shared
 * by the sale page and the attempt path) and, once a sale stops selling (sold out or ended),
 * its buyers' purchases, so refusals and same-key retries are answered from memory.
 */
export class SaleBoard {
  /** Since when each sale's counter has been seen empty (this sold-out spell). */
  private readonly emptySince = new Map<string, number>();
  private readonly books = new Map<string, BuyerBook>();

  constructor(
    private readonly snapshots: Snapshots<number>,
    private readonly purchases: Pick<PurchaseStore, 'changedSince'>,
    private readonly options: BoardOptions,
  ) {}

  /** Units free to sell, from this replica's snapshot. */
  async available(saleId: string): Promise<number> {
    const available = await this.snapshots.get(saleId);
    if (available > 0) this.emptySince.delete(saleId);
    else if (!this.emptySince.has(saleId)) this.emptySince.set(saleId, Date.now());
    return available;
  }

  /** A batch found the counter empty: this replica's crowd is refused from here until units come back. */
  soldOut(saleId: string): void {
    this.snapshots.set(saleId, 0);
    if (!this.emptySince.has(saleId)) this.emptySince.set(saleId, Date.now());
  }

  /** A unit came back on this replica: offer it at once (other replicas see it at their next refresh). */
  unitReturned(saleId: string): void {
    this.snapshots.invalidate(saleId);
    this.emptySince.delete(saleId);
  }

  /** When the counter was first seen empty in the current sold-out spell; undefined while units are free. */
  soldOutSince(saleId: string): number | undefined {
    return this.emptySince.get(saleId);
  }

  /**
   * For an attempt on a sale that stopped selling at `stoppedAt` (sold out or ended): the purchase this buyer made
   * with this key, `null` when they made none — or `undefined` when memory cannot tell yet (a hold may still be
   * committing, or the book is not synced): then the caller asks the database.
   */
  earlierAttempt(saleId: string, buyerId: string, idempotencyKey: string, stoppedAt: number, now = Date.now()): Purchase | null | undefined {
    const book = this.books.get(saleId);
    if (!book || now - book.syncedAsOf >= this.options.refreshAfterMs) this.sync(saleId).catch(() => undefined);
    if (!book || book.syncedAsOf < stoppedAt + this.options.settleMs) return undefined;
    return book.byKey.get(attemptKey(buyerId, idempotencyKey)) ?? null;
  }

  private sync(saleId: string): Promise<void> {
    let book = this.books.get(saleId);
    if (!book) {
      book = { byKey: new Map(), syncedAsOf: -Infinity };
      this.books.set(saleId, book);
    }
    if (book.syncing) return book.syncing;
    const target = book;
    const startedAt = Date.now();
    const since = target.seenUntil ? new Date(target.seenUntil.getTime() - COMMIT_LAG_MS) : new Date(0);
    target.syncing = this.purchases.changedSince(saleId, since).then((changed) => {
      for (const p of changed) {
        target.byKey.set(attemptKey(p.buyerId, p.idempotencyKey), p);
        if (!target.seenUntil || p.updatedAt > target.seenUntil) target.seenUntil = p.updatedAt;
      }
      target.syncedAsOf = startedAt;
    }).finally(() => {
      delete target.syncing;
    });
    return target.syncing;
  }
}
