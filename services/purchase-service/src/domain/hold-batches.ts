import { randomUUID } from 'node:crypto';
import { AppError } from '@flash/http';
import { BatchConflictError, type BatchRequest, type StockKeeper } from '@flash/stock';
import { SaleErrors } from './errors';
import { attemptKey, freeSlot, occupiesSlot, type FlashSale, type Purchase } from './flash-sale';
import type { PurchaseStore } from './ports';
import type { SaleBoard } from './sale-board';

/** The stock hold outlives the purchase hold, so the purchase's own expiry always decides first. */
export const STOCK_HOLD_MARGIN_SECONDS = 60;
/** Attempts written in one transaction at most. */
const MAX_BATCH = 500;
/** Attempts waiting behind the batches in flight before another batch starts beside them. */
const PARALLEL_AFTER = 16;
/**
 * A batch whose rows collide with another replica's (same buyer at once) is decided again, this often at most: each
 * try reads what the other side committed, but while both replicas write batches for the same buyers a try can
 * collide again (3 tries left 12–16 of 1,200 attempts with a 503 in 2 of 3 runs of the two-replica test).
 */
const MAX_TRIES = 8;

interface Attempt {
  buyerId: string;
  idempotencyKey: string;
  resolve(purchase: Purchase): void;
  reject(err: unknown): void;
}

/** What a batch did, for the service's metrics. */
export type BatchObserver = (batch: { attempts: number; seconds: number }) => void;

interface Queue {
  sale: FlashSale;
  waiting: Attempt[];
  /** Batches of this sale being written now. */
  writing: number;
}

/**
 * Group commit of holds: attempts on one sale that arrive while the previous batch is being written are decided and
 * written together — one query for what the buyers already have, one counter take for the units, one transaction for
 * the reservations, the ledger movement and the purchases. Each buyer is answered only after that commit.
 */
export class HoldBatches {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly purchases: PurchaseStore,
    private readonly stock: Pick<StockKeeper, 'reserveBatch'>,
    private readonly board: SaleBoard,
    /** Attempts waiting for a sale's next batch, at most: memory stays bounded under any crowd. */
    private readonly queueLimit: number,
    /** How long an abandoned or expired hold keeps counting against its buyer's limit. */
    private readonly cooldownMs: number,
    /**
     * Batches of one sale written at once: each is a chain of round trips (lookup, counter, transaction), so a few in
     * flight keep the database and the sidecar busy while the next one gathers.
     */
    private readonly maxInFlight: number,
    private readonly observe: BatchObserver = () => undefined,
  ) {}

  hold(sale: FlashSale, buyerId: string, idempotencyKey: string): Promise<Purchase> {
    let queue = this.queues.get(sale.id);
    if (!queue) {
      queue = { sale, waiting: [], writing: 0 };
      this.queues.set(sale.id, queue);
    }
    if (queue.waiting.length >= this.queueLimit) {
      return Promise.reject(AppError.unavailable('Too many attempts are waiting on this sale; retry with the same Idempotency-Key.'));
    }
    const promise = new Promise<Purchase>((resolve, reject) => queue.waiting.push({ buyerId, idempotencyKey, resolve, reject }));
    // One batch at a time while it keeps up; more once attempts pile up behind it.
    if (!queue.writing || (queue.writing < this.maxInFlight && queue.waiting.length >= PARALLEL_AFTER)) void this.drain(queue);
    return promise;
  }

  /** Writes batches until nothing waits; up to maxInFlight of these run at once per sale. */
  private async drain(queue: Queue): Promise<void> {
    queue.writing++;
    // Let the attempts already parsed in this turn of the event loop join the batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (queue.waiting.length) {
      const batch = queue.waiting.splice(0, MAX_BATCH);
      const started = performance.now();
      await this.write(queue.sale, batch);
      this.observe({ attempts: batch.length, seconds: (performance.now() - started) / 1000 });
    }
    queue.writing--;
    if (!queue.writing && this.queues.get(queue.sale.id) === queue) this.queues.delete(queue.sale.id);
  }

  private async write(sale: FlashSale, batch: Attempt[]): Promise<void> {
    for (let tries = 1; ; tries++) {
      try {
        const answers = await this.decideAndWrite(sale, batch);
        batch.forEach((attempt, i) => {
          const answer = answers[i]!;
          if (answer instanceof Error) attempt.reject(answer);
          else attempt.resolve(answer);
        });
        return;
      } catch (err) {
        if (err instanceof BatchConflictError && tries < MAX_TRIES) continue;
        const answer = err instanceof BatchConflictError ? AppError.unavailable('Too many attempts at once; retry with the same Idempotency-Key.') : err;
        batch.forEach((attempt) => attempt.reject(answer));
        return;
      }
    }
  }

  /** Each attempt's answer, in order: its purchase, or the refusal. Throws when nothing was written. */
  private async decideAndWrite(sale: FlashSale, batch: Attempt[]): Promise<(Purchase | AppError)[]> {
    const existing = await this.purchases.forAttempts(sale.id, batch);
    const byKey = new Map(existing.map((p) => [attemptKey(p.buyerId, p.idempotencyKey), p]));
    const now = new Date();
    const slots = new Map<string, Set<number>>();
    /** Slots still written on purchases whose cooldown is over: a new hold may take them (freeing the old row's). */
    const stale = new Map<string, string>();
    for (const p of existing) {
      if (p.saleId !== sale.id || p.limitSlot === null) continue;
      if (!occupiesSlot(p, now.getTime(), this.cooldownMs)) {
        stale.set(slotKey(p), p.id);
        continue;
      }
      if (!slots.has(p.buyerId)) slots.set(p.buyerId, new Set());
      slots.get(p.buyerId)!.add(p.limitSlot);
    }
    const wanted: Purchase[] = [];
    const decided = batch.map((a): Purchase | AppError => {
      const earlier = byKey.get(attemptKey(a.buyerId, a.idempotencyKey));
      if (earlier) return earlier.saleId === sale.id ? earlier : SaleErrors.keyReused();
      const taken = slots.get(a.buyerId) ?? new Set<number>();
      slots.set(a.buyerId, taken);
      const slot = freeSlot(taken, sale.perUserLimit);
      if (slot === undefined) return SaleErrors.limitReached(sale.perUserLimit);
      taken.add(slot);
      const purchase: Purchase = {
        id: randomUUID(), saleId: sale.id, buyerId: a.buyerId, idempotencyKey: a.idempotencyKey, status: 'HELD', price: sale.price,
        orderId: null, limitSlot: slot, holdExpiresAt: new Date(now.getTime() + sale.holdSeconds * 1000), createdAt: now, updatedAt: now,
      };
      // The same key twice in one batch: both get the one purchase.
      byKey.set(attemptKey(a.buyerId, a.idempotencyKey), purchase);
      wanted.push(purchase);
      return purchase;
    });
    const requests: BatchRequest[] = wanted.map((p) => ({ reservationId: p.id, holdSeconds: sale.holdSeconds + STOCK_HOLD_MARGIN_SECONDS }));
    const held = new Set(await this.stock.reserveBatch(sale.id, requests, async (tx, got) => {
      const ids = new Set(got.map((r) => r.reservationId));
      const writing = wanted.filter((p) => ids.has(p.id));
      const freeing = writing.map((p) => stale.get(slotKey(p))).filter((id): id is string => id !== undefined);
      await this.purchases.insertHeld(tx, writing, freeing);
    }));
    if (held.size < wanted.length) this.board.soldOut(sale.id, held.size);
    const unitless = new Set(wanted.filter((p) => !held.has(p.id)).map((p) => p.id));
    return decided.map((d) => (d instanceof AppError || !unitless.has(d.id) ? d : SaleErrors.soldOut()));
  }
}

/** A buyer's limit slot on the sale. */
const slotKey = (p: Pick<Purchase, 'buyerId' | 'limitSlot'>) => `${p.buyerId}\n${p.limitSlot}`;
