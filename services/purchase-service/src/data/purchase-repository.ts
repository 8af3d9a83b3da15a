import { Mutex, Semaphore } from 'async-mutex';
import { In, LessThanOrEqual, type DataSource } from 'typeorm';
import { COUNTS_AGAINST_LIMIT, type Purchase, type PurchaseStatus } from '../domain/flash-sale';
import type { OutboxEvent, PurchaseStore } from '../domain/ports';
import { addToOutbox } from '@flash/runtime';
import { FlashSaleEntity, PurchaseEntity, PurchaseTransitionEntity } from './entities';

export class PurchaseRepository implements PurchaseStore {
  /**
   * Buyer-lock and purchase-lock transactions hold a connection while the stock ledger needs another: capping how
   * many run at once keeps connections free for the ledger, and one queue per buyer keeps a crowd from one buyer
   * from filling the pool.
   */
  private readonly lockingTransactions: Semaphore;
  private readonly buyerQueues = new Map<string, Mutex>();

  constructor(private readonly db: DataSource, poolSize: number) {
    this.lockingTransactions = new Semaphore(Math.max(1, Math.floor(poolSize / 2)));
  }

  async byId(id: string): Promise<Purchase | undefined> {
    return (await this.db.getRepository(PurchaseEntity).findOneBy({ id })) ?? undefined;
  }

  async byKey(buyerId: string, idempotencyKey: string): Promise<Purchase | undefined> {
    return (await this.db.getRepository(PurchaseEntity).findOneBy({ buyerId, idempotencyKey })) ?? undefined;
  }

  async withBuyerLock(
    saleId: string,
    buyerId: string,
    idempotencyKey: string,
    decide: (state: { existing?: Purchase; active: number }) => Promise<Purchase>,
    onTurn: () => void = () => undefined,
  ): Promise<Purchase> {
    const key = `${saleId}:${buyerId}`;
    let queue = this.buyerQueues.get(key);
    if (!queue) {
      queue = new Mutex();
      this.buyerQueues.set(key, queue);
    }
    try {
      return await queue.runExclusive(() =>
        this.lockingTransactions.runExclusive(() => {
          onTurn();
          return this.lockBuyer(saleId, buyerId, idempotencyKey, decide);
        }),
      );
    } finally {
      if (!queue.isLocked()) this.buyerQueues.delete(key);
    }
  }

  private async lockBuyer(
    saleId: string,
    buyerId: string,
    idempotencyKey: string,
    decide: (state: { existing?: Purchase; active: number }) => Promise<Purchase>,
  ): Promise<Purchase> {
    // The lock row is made outside the transaction: concurrent INSERT IGNOREs of one new row inside it deadlock.
    await this.db.query('INSERT IGNORE INTO sale_buyers (sale_id, buyer_id) VALUES (?, ?)', [saleId, buyerId]);
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT sale_id FROM sale_buyers WHERE sale_id = ? AND buyer_id = ? FOR UPDATE', [saleId, buyerId]);
      const purchases = tx.getRepository(PurchaseEntity);
      const existing = (await purchases.findOneBy({ buyerId, idempotencyKey })) ?? undefined;
      const active = await purchases.countBy({ saleId, buyerId, status: In(COUNTS_AGAINST_LIMIT) });
      const purchase = await decide({ existing, active });
      if (purchase === existing) return purchase;
      await purchases.insert(purchase);
      await tx.getRepository(PurchaseTransitionEntity).insert({
        purchaseId: purchase.id, fromStatus: null, toStatus: purchase.status, reason: 'unit held', at: purchase.createdAt,
      });
      return purchase;
    });
  }

  async withPurchaseLock<T>(
    id: string,
    change: (purchase: Purchase) => Promise<{ result: T; to?: PurchaseStatus; reason?: string; orderId?: string; event?: OutboxEvent }>,
  ): Promise<T | undefined> {
    return this.lockingTransactions.runExclusive(() => this.db.transaction(async (tx) => {
      const purchases = tx.getRepository(PurchaseEntity);
      const purchase = await purchases.findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!purchase) return undefined;
      const { result, to, reason, orderId, event } = await change(purchase);
      if (to && to !== purchase.status) {
        const at = new Date();
        await purchases.update({ id }, { status: to, updatedAt: at, ...(orderId ? { orderId } : {}) });
        await tx.getRepository(PurchaseTransitionEntity).insert({ purchaseId: id, fromStatus: purchase.status, toStatus: to, reason: reason ?? '', at });
        if (event) await addToOutbox(tx, event.topic, event.data);
      }
      return result;
    }));
  }

  async heldUntil(now: Date, limit: number): Promise<Purchase[]> {
    return this.db.getRepository(PurchaseEntity).find({ where: { status: 'HELD', holdExpiresAt: LessThanOrEqual(now) }, take: limit });
  }

  async ofBuyer(buyerId: string) {
    const purchases = await this.db.getRepository(PurchaseEntity).find({ where: { buyerId }, order: { createdAt: 'DESC' }, take: 200 });
    const sales = purchases.length
      ? await this.db.getRepository(FlashSaleEntity).findBy({ id: In([...new Set(purchases.map((p) => p.saleId))]) })
      : [];
    const byId = new Map(sales.map((s) => [s.id, s]));
    return purchases.map((p) => ({ ...p, productId: byId.get(p.saleId)!.productId, productName: byId.get(p.saleId)!.productName }));
  }

  async counts(saleId: string): Promise<Record<PurchaseStatus, number>> {
    const rows = (await this.db.query('SELECT status, COUNT(*) AS n FROM purchases WHERE sale_id = ? GROUP BY status', [saleId])) as {
      status: PurchaseStatus;
      n: string;
    }[];
    const counts: Record<PurchaseStatus, number> = { HELD: 0, PAID: 0, PAYMENT_FAILED: 0, ABANDONED: 0, EXPIRED: 0, RESTOCKED: 0 };
    for (const row of rows) counts[row.status] = Number(row.n);
    return counts;
  }
}
