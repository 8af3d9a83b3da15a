import { Semaphore } from 'async-mutex';
import { In, LessThanOrEqual, MoreThanOrEqual, type DataSource, type EntityManager } from 'typeorm';
import { attemptKey, COUNTS_AGAINST_LIMIT, KEEPS_SLOT_FOR_COOLDOWN, PURGED_AFTER_RETENTION, type Purchase, type PurchaseStatus } from '../domain/flash-sale';
import type { OutboxEvent, PurchaseChange, PurchaseStore } from '../domain/ports';
import { addToOutbox, insertRows } from '@flash/runtime';
import { FlashSaleEntity, PurchaseEntity, PurchaseTransitionEntity } from './entities';

const UNPAID = PURGED_AFTER_RETENTION.map((s) => `'${s}'`).join(', ');

/**
 * The hot paths in plain SQL (a hold batch's lookup; the payment path: read, lock, change, record): TypeORM's query
 * building and entity mapping cost ~0.3 ms of CPU per statement, as much as the statement's round trip (a CPU profile
 * of sequential payments), and more for a batch's lookup of hundreds of keys.
 */
const PURCHASE_COLUMNS = 'id, sale_id, buyer_id, idempotency_key, status, price, hold_expires_at, order_id, limit_slot, created_at, updated_at';

interface PurchaseRow {
  id: string; sale_id: string; buyer_id: string; idempotency_key: string; status: PurchaseStatus; price: string | number;
  hold_expires_at: Date; order_id: string | null; limit_slot: number | null; created_at: Date; updated_at: Date;
}

const purchaseOf = (r: PurchaseRow): Purchase => ({
  id: r.id, saleId: r.sale_id, buyerId: r.buyer_id, idempotencyKey: r.idempotency_key, status: r.status, price: Number(r.price),
  holdExpiresAt: r.hold_expires_at, orderId: r.order_id, limitSlot: r.limit_slot, createdAt: r.created_at, updatedAt: r.updated_at,
});

export class PurchaseRepository implements PurchaseStore {
  /**
   * Purchase-lock transactions hold a connection each (and a row lock) while they wait: capping how many run at once
   * keeps connections free for hold batches and for giving units back (returnUnit runs after the lock).
   */
  private readonly lockingTransactions: Semaphore;

  constructor(
    private readonly db: DataSource,
    poolSize: number,
    /** How long after a purchase is paid its order is looked for (orderChecksDue). */
    private readonly orderCheckAfterMs = 60_000,
  ) {
    this.lockingTransactions = new Semaphore(Math.max(1, Math.floor(poolSize / 2)));
  }

  async byId(id: string): Promise<Purchase | undefined> {
    const [row] = (await this.db.query(`SELECT ${PURCHASE_COLUMNS} FROM purchases WHERE id = ?`, [id])) as PurchaseRow[];
    return row && purchaseOf(row);
  }

  async byKey(buyerId: string, idempotencyKey: string): Promise<Purchase | undefined> {
    return (await this.db.getRepository(PurchaseEntity).findOneBy({ buyerId, idempotencyKey })) ?? undefined;
  }

  /** The purchases a batch's attempts already made (same buyer and key), and their buyers' purchases that hold a slot. */
  async forAttempts(saleId: string, attempts: { buyerId: string; idempotencyKey: string }[]): Promise<Purchase[]> {
    if (!attempts.length) return [];
    const buyers = [...new Set(attempts.map((a) => a.buyerId))];
    const keys = [...new Map(attempts.map((a) => [attemptKey(a.buyerId, a.idempotencyKey), a])).values()];
    const rows = (await this.db.query(
      `SELECT ${PURCHASE_COLUMNS} FROM purchases WHERE ${keys.map(() => '(buyer_id = ? AND idempotency_key = ?)').join(' OR ')}` +
        ` OR (sale_id = ? AND buyer_id IN (${buyers.map(() => '?').join(', ')}) AND limit_slot IS NOT NULL)`,
      [...keys.flatMap((a) => [a.buyerId, a.idempotencyKey]), saleId, ...buyers],
    )) as PurchaseRow[];
    return rows.map(purchaseOf);
  }

  async insertHeld(tx: EntityManager, purchases: Purchase[], freeing: string[]): Promise<void> {
    if (freeing.length) await tx.getRepository(PurchaseEntity).update({ id: In(freeing) }, { limitSlot: null });
    await insertRows(tx, PurchaseEntity, purchases);
    await insertRows(tx, PurchaseTransitionEntity, purchases.map((p) => ({
      purchaseId: p.id, fromStatus: null, toStatus: p.status, reason: 'unit held', at: p.createdAt,
    })));
  }

  async changedSince(saleId: string, since: Date): Promise<Purchase[]> {
    return this.db.getRepository(PurchaseEntity).find({ where: { saleId, updatedAt: MoreThanOrEqual(since) }, order: { updatedAt: 'ASC' } });
  }

  async withPurchaseLock<T>(id: string, change: (purchase: Purchase, tx: EntityManager) => Promise<PurchaseChange<T>>): Promise<{ result: T; purchase: Purchase } | undefined> {
    const changed = await this.withPurchaseLocks([id], async ([purchase], tx) => new Map([[id, await change(purchase!, tx)]]));
    return changed.get(id);
  }

  async withPurchaseLocks<T>(
    ids: string[],
    change: (purchases: Purchase[], tx: EntityManager) => Promise<Map<string, PurchaseChange<T>>>,
  ): Promise<Map<string, { result: T; purchase: Purchase }>> {
    if (!ids.length) return new Map();
    return this.lockingTransactions.runExclusive(() => this.db.transaction(async (tx) => {
      // In id order, as every locking transaction takes them: two batches sharing purchases wait, never deadlock.
      const rows = (await tx.query(
        `SELECT ${PURCHASE_COLUMNS} FROM purchases FORCE INDEX (PRIMARY) WHERE id IN (${ids.map(() => '?').join(', ')}) ORDER BY id FOR UPDATE`, ids,
      )) as PurchaseRow[];
      const found = rows.map(purchaseOf);
      const changes = found.length ? await change(found, tx) : new Map<string, PurchaseChange<T>>();
      const at = new Date();
      const done = new Map<string, { result: T; purchase: Purchase }>();
      /** Purchases moving to the same status (freeing their limit slot or not) are updated by one statement. */
      const moving = new Map<string, { to: PurchaseStatus; freesSlot: boolean; ids: string[]; orders: [string, string][]; references: [string, string][] }>();
      const transitions: { purchaseId: string; fromStatus: PurchaseStatus; toStatus: PurchaseStatus; reason: string; at: Date }[] = [];
      const events: OutboxEvent[] = [];
      for (const purchase of found) {
        const { result, to, reason, orderId, paymentReference, event } = changes.get(purchase.id)!;
        let now = purchase;
        if (to && to !== purchase.status) {
          const freesSlot = !COUNTS_AGAINST_LIMIT.includes(to) && !KEEPS_SLOT_FOR_COOLDOWN.includes(to);
          const group = `${to}/${freesSlot}`;
          if (!moving.has(group)) moving.set(group, { to, freesSlot, ids: [], orders: [], references: [] });
          moving.get(group)!.ids.push(purchase.id);
          if (orderId) moving.get(group)!.orders.push([purchase.id, orderId]);
          if (paymentReference) moving.get(group)!.references.push([purchase.id, paymentReference]);
          transitions.push({ purchaseId: purchase.id, fromStatus: purchase.status, toStatus: to, reason: reason ?? '', at });
          now = { ...purchase, status: to, updatedAt: at, ...(freesSlot ? { limitSlot: null } : {}), ...(orderId ? { orderId } : {}) };
        }
        if (event) events.push(event);
        done.set(purchase.id, { result, purchase: now });
      }
      const perRow = (column: string, values: [string, string][]) =>
        values.length ? `, ${column} = CASE id ${values.map(() => 'WHEN ? THEN ?').join(' ')} ELSE ${column} END` : '';
      for (const { to, freesSlot, ids: moved, orders, references } of moving.values()) {
        // A paid purchase is to become an order (order-service, from its event): looked for once, this long after.
        const orderCheck = to === 'PAID' ? ', order_check_at = ?' : '';
        await tx.query(
          `UPDATE purchases FORCE INDEX (PRIMARY) SET status = ?, updated_at = ?${freesSlot ? ', limit_slot = NULL' : ''}${perRow('order_id', orders)}${perRow('payment_reference', references)}${orderCheck} WHERE id IN (${moved.map(() => '?').join(', ')})`,
          [to, at, ...orders.flat(), ...references.flat(), ...(orderCheck ? [new Date(at.getTime() + this.orderCheckAfterMs)] : []), ...moved],
        );
      }
      await insertRows(tx, PurchaseTransitionEntity, transitions);
      await addToOutbox(tx, events);
      return done;
    }));
  }

  async nextOrderCheck(): Promise<Date | undefined> {
    const [row] = (await this.db.query('SELECT MIN(order_check_at) AS at FROM purchases')) as { at: Date | null }[];
    return row?.at ?? undefined;
  }

  async orderChecksDue(now: Date, limit: number): Promise<(Purchase & { paymentReference: string | null })[]> {
    const rows = (await this.db.query(
      `SELECT ${PURCHASE_COLUMNS}, payment_reference FROM purchases WHERE order_check_at <= ? ORDER BY order_check_at LIMIT ${Number(limit)}`, [now],
    )) as (PurchaseRow & { payment_reference: string | null })[];
    return rows.map((r) => ({ ...purchaseOf(r), paymentReference: r.payment_reference }));
  }

  async ordersChecked(found: string[], missing: { id: string; event: OutboxEvent }[], checkAgainAt: Date): Promise<void> {
    if (!found.length && !missing.length) return;
    await this.db.transaction(async (tx) => {
      if (found.length) await tx.query('UPDATE purchases SET order_check_at = NULL WHERE id IN (?)', [found]);
      if (missing.length) await tx.query('UPDATE purchases SET order_check_at = ? WHERE id IN (?)', [checkAgainAt, missing.map((m) => m.id)]);
      await addToOutbox(tx, missing.map((m) => m.event));
    });
  }

  async endedWithUnitHeld(limit: number): Promise<Purchase[]> {
    const rows = (await this.db.query(
      `SELECT ${PURCHASE_COLUMNS.replace(/\w+/g, 'p.$&')} FROM stock_reservations r JOIN purchases p ON p.id = r.id
       WHERE r.status = 'RESERVED' AND p.status IN (${UNPAID}) LIMIT ${Number(limit)}`,
    )) as PurchaseRow[];
    return rows.map(purchaseOf);
  }

  async heldUntil(now: Date, limit: number): Promise<Purchase[]> {
    return this.db.getRepository(PurchaseEntity).find({ where: { status: 'HELD', holdExpiresAt: LessThanOrEqual(now) }, take: limit });
  }

  async nextHoldExpiry(): Promise<Date | undefined> {
    const [row] = (await this.db.query("SELECT MIN(hold_expires_at) AS at FROM purchases WHERE status = 'HELD'")) as { at: Date | null }[];
    return row?.at ?? undefined;
  }

  async purgeUnpaid(before: Date, limit: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      const rows = (await tx.query(
        `SELECT id FROM purchases WHERE status IN (${UNPAID}) AND updated_at < ? ORDER BY updated_at LIMIT ${Number(limit)} FOR UPDATE SKIP LOCKED`,
        [before],
      )) as { id: string }[];
      if (rows.length === 0) return 0;
      const ids = rows.map((r) => r.id);
      await tx.getRepository(PurchaseTransitionEntity).delete({ purchaseId: In(ids) });
      await tx.getRepository(PurchaseEntity).delete({ id: In(ids) });
      return ids.length;
    });
  }

  async oldestUnpaid(): Promise<Date | undefined> {
    // One index dive per status (purchases_settled): what an idle check costs.
    const [row] = (await this.db.query(`SELECT MIN(updated_at) AS at FROM purchases WHERE status IN (${UNPAID})`)) as { at: Date | null }[];
    return row?.at ?? undefined;
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
