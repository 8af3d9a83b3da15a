import { PURCHASE_PAID_TOPIC, type PurchasePaid } from '@flash/events';
import type { FlashSales } from './flash-sales';
import type { Purchase } from './flash-sale';
import type { OrderBook, OutboxEvent, PurchaseStore } from './ports';

/** Paid purchases one check asks order-service about at most; a full batch is followed by another check at once. */
const CHECK_BATCH = 500;

/** The `purchase-paid` event of a purchase: order-service makes its one order from it, under the purchase's id. */
export function purchasePaidEvent(p: Purchase, productId: string, paymentReference: string | undefined, paidAt: Date): OutboxEvent {
  const data: PurchasePaid = {
    purchaseId: p.id, saleId: p.saleId, productId, buyerId: p.buyerId, quantity: 1, price: p.price, orderId: p.id,
    paidAt: paidAt.toISOString(), ...(paymentReference ? { paymentReference } : {}),
  };
  return { topic: PURCHASE_PAID_TOPIC, data };
}

/**
 * Every paid purchase becomes an order, also when its event never reaches order-service: pub/sub delivers at least
 * once only while the broker keeps the event (Redis without persistence loses its streams when it restarts). Each paid
 * purchase is looked for among order-service's orders once, `checkAfterMs` after it was paid (through an index: a
 * check costs what is due, not what exists); a missing one has its event written to the outbox again (order-service
 * places an order once, however often it comes) and is looked for again `retryMs` later.
 */
export class OrderChecks {
  constructor(
    private readonly purchases: PurchaseStore,
    private readonly sales: FlashSales,
    private readonly orders: OrderBook,
    private readonly options: { retryMs: number },
    /** Publishes what the last change wrote to the outbox (without waiting for it). */
    private readonly announce: () => void = () => undefined,
  ) {}

  /** Checks the paid purchases that are due; resolves how many were sent again and when the next check is due. */
  async checkDue(now = new Date()): Promise<{ resent: number; dueInMs?: number }> {
    const next = await this.purchases.nextOrderCheck();
    if (!next || next.getTime() > now.getTime()) return { resent: 0, ...(next ? { dueInMs: next.getTime() - now.getTime() } : {}) };
    const due = await this.purchases.orderChecksDue(now, CHECK_BATCH);
    if (!due.length) return { resent: 0 };
    const placed = await this.orders.placed(due.map((p) => p.id));
    const missing: { id: string; event: OutboxEvent }[] = [];
    const found: string[] = [];
    for (const p of due) {
      // A purchase restocked since had its order: order-service asked for the unit back when it was cancelled.
      if (placed.has(p.id) || p.status !== 'PAID') found.push(p.id);
      else missing.push({ id: p.id, event: purchasePaidEvent(p, (await this.sales.sale(p.saleId)).productId, p.paymentReference ?? undefined, p.updatedAt) });
    }
    await this.purchases.ordersChecked(found, missing, new Date(now.getTime() + this.options.retryMs));
    if (missing.length) this.announce();
    return { resent: missing.length, dueInMs: due.length === CHECK_BATCH ? 0 : undefined };
  }
}
