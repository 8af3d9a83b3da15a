import type { CounterLevel, Snapshot, Snapshots } from '@flash/stock';
import { attemptKey, type Purchase } from './flash-sale';
import type { PurchaseStore } from './ports';

export interface BoardOptions {
  /**
   * How long a hold's counter take may stay unrecorded when its sale ends (its batch's transaction in flight): refusals
   * of an ended sale skip the database this long after the end, so every hold made before is in the buyer book.
   */
  settleMs: number;
  /** The buyer book of a sale that stopped selling is re-read after this long. */
  refreshAfterMs: number;
}

/** A sale's counter as this replica last read it, and when that read started. */
export type SaleLevel = Snapshot<CounterLevel>;

/**
 * While a sold-out counter still shows takes in flight (batches committing), it is read again this often: the first
 * read without one lets refusals come from memory.
 */
const RECORDING_RECHECK_MS = 50;

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
 * Buyer books of this many sales at most, those synced last: a replica that runs for weeks sees sale after sale, and
 * a book holds every purchase of its sale. A sale asked about again after its book went is read again (until then,
 * the database answers its retries).
 */
export const BOOKS_KEPT = 100;

/**
 * What every replica knows about a sale without asking anyone per request: its counter (units free, shared by the
 * sale page and the attempt path) and, once a sale stops selling (sold out or ended), its buyers' purchases, so
 * refusals and same-key retries are answered from memory.
 */
export class SaleBoard {
  private readonly books = new Map<string, BuyerBook>();

  constructor(
    private readonly snapshots: Snapshots<CounterLevel>,
    private readonly purchases: Pick<PurchaseStore, 'changedSince'>,
    private readonly options: BoardOptions,
  ) {}

  /** The sale's counter from this replica's snapshot. */
  async level(saleId: string, now = Date.now()): Promise<SaleLevel> {
    const level = await this.snapshots.entry(saleId);
    if (level.value.available === 0 && level.value.takesInFlight > 0 && now - level.readAt >= RECORDING_RECHECK_MS) this.snapshots.refresh(saleId);
    return level;
  }

  /** Units free to sell, from this replica's snapshot. */
  async available(saleId: string): Promise<number> {
    return (await this.level(saleId)).value.available;
  }

  /**
   * A batch found the counter empty (after taking `took` units): this replica's crowd is refused from here until
   * units come back.
   */
  soldOut(saleId: string, took: number, now = Date.now()): void {
    // A batch that took nothing from a counter already seen empty changes nothing: leave the snapshot (and its
    // re-read) alone. One that took units is still settling its take: memory answers after a read that shows none.
    if (!took && this.snapshots.current(saleId)?.value.available === 0) return;
    this.snapshots.set(saleId, { available: 0, takesInFlight: 1 }, now);
  }

  /** A unit came back on this replica: offer it at once (other replicas see it at their next refresh). */
  unitReturned(saleId: string): void {
    this.snapshots.invalidate(saleId);
  }

  /**
   * Since when every hold of a sale with nothing to sell is in the database: for a sold-out sale, the start of a
   * counter read that found it empty with no take in flight (every unit taken before was recorded, and none can be
   * taken until one comes back); for an ended one, `settleMs` after the end. Undefined while a take may still be
   * recording its hold: then only the database can tell.
   */
  holdsRecordedSince(sale: { endsAt: Date }, level: SaleLevel | undefined): number | undefined {
    if (!level) return sale.endsAt.getTime() + this.options.settleMs;
    return level.value.available === 0 && level.value.takesInFlight === 0 ? level.readAt : undefined;
  }

  /**
   * For an attempt on a sale that stopped selling, whose holds are all in the database since `recordedSince`
   * (holdsRecordedSince): the purchase this buyer made with this key, `null` when they made none — or `undefined`
   * when memory cannot tell yet (the book was synced before then): then the caller asks the database.
   */
  earlierAttempt(saleId: string, buyerId: string, idempotencyKey: string, recordedSince: number, now = Date.now()): Purchase | null | undefined {
    const book = this.books.get(saleId);
    const behind = !book || book.syncedAsOf < recordedSince;
    if (behind || now - book.syncedAsOf >= this.options.refreshAfterMs) this.sync(saleId).catch(() => undefined);
    if (behind) return undefined;
    return book.byKey.get(attemptKey(buyerId, idempotencyKey)) ?? null;
  }

  private sync(saleId: string): Promise<void> {
    let book = this.books.get(saleId);
    if (book) {
      if (book.syncing) return book.syncing;
      this.books.delete(saleId); // to the back of the line: the map's order is the order of the last syncs
    } else {
      book = { byKey: new Map(), syncedAsOf: -Infinity };
      if (this.books.size >= BOOKS_KEPT) this.books.delete(this.books.keys().next().value!);
    }
    this.books.set(saleId, book);
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
