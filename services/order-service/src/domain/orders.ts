import { createHash, randomUUID } from 'node:crypto';
import type { PurchasePaid } from '@flash/events';
import { AppError } from '@flash/http';
import { PaymentErrors, type Payments } from '@flash/payments';
import type { Clock } from './clock';
import { dueTransition, mayReturn, nextStepAt, stepCutoffs, type Order, type OrderItem } from './order';
import { newPayment, refundOnLeaving, type Payment } from './payment';
import type { OrderDetails, OrderStore, PaymentStore, StockGateway, Step } from './ports';

export interface CheckoutLine {
  productId: string;
  quantity: number;
}

export interface CheckoutPayment {
  /** The same key again answers what the first checkout with it got; never a second charge or order. */
  idempotencyKey?: string;
  paymentToken?: string;
}

export interface OrdersOptions {
  dayMs: number;
  checkoutHoldSeconds: number;
}

/** Wakes the jobs that move orders on and void abandoned checkouts: work for them falls due in so many ms. */
export interface OrdersWakeups {
  lifecycle?(delayMs: number): void;
  checkouts?(delayMs: number): void;
}

/** Orders one scheduler run moves at most; a full batch is followed by another run at once. */
const SCHEDULER_BATCH = 500;

const notFound = (id: string) => AppError.notFound(`Order ${id}`);
const NOTHING_PLACED = 'no order was placed and the stock went back';

const CheckoutErrors = {
  keyReused: () =>
    new AppError(422, 'IDEMPOTENCY_KEY_REUSED', 'Idempotency key reused', 'This Idempotency-Key was used for another checkout.'),
  inProgress: () =>
    new AppError(409, 'CHECKOUT_IN_PROGRESS', 'Checkout in progress', 'A checkout with this Idempotency-Key is still being charged; ask again shortly.', undefined, { 'retry-after': '1' }),
};

/** What a checkout asked for, so a reused Idempotency-Key with another basket is told apart. */
export const basketHash = (lines: CheckoutLine[]) =>
  createHash('sha256').update(JSON.stringify([...lines].sort((a, b) => a.productId.localeCompare(b.productId)))).digest('hex');

/** Orders from checkout and from paid flash purchases, and their life: ship, deliver, cancel, return. */
export class Orders {
  constructor(
    private readonly orders: OrderStore,
    private readonly payments: PaymentStore,
    private readonly charger: Payments,
    private readonly stock: StockGateway,
    private readonly clock: Clock,
    private readonly options: OrdersOptions,
    /** Publishes what the last change wrote to the outbox (without waiting for it). */
    private readonly announce: () => void = () => undefined,
    private readonly wake: OrdersWakeups = {},
  ) {}

  /**
   * Regular checkout: every line's stock is reserved, the total charged, and the stock committed with the order only
   * when the charge is approved. Short stock, a decline or a timeout leave no order and nothing reserved.
   */
  async checkout(userId: string, lines: CheckoutLine[], pay: CheckoutPayment = {}): Promise<OrderDetails> {
    const requestHash = basketHash(lines);
    if (pay.idempotencyKey) {
      const earlier = await this.payments.byCheckoutKey(userId, pay.idempotencyKey);
      if (earlier) return this.replay(earlier, requestHash);
    }
    const priced = [];
    for (const [i, line] of lines.entries()) {
      const product = await this.stock.product(line.productId);
      if (!product) throw AppError.validation([{ field: `items.${i}.productId`, message: 'no such product' }]);
      priced.push({ ...line, price: product.price });
    }
    const orderId = randomUUID();
    const total = priced.reduce((sum, line) => sum + line.price * line.quantity, 0);
    const payment = newPayment({
      id: orderId, userId, saleId: null, orderId: null, source: 'REGULAR', amount: total, status: 'PENDING', reference: null,
      createdAt: this.clock.now(), idempotencyKey: pay.idempotencyKey ?? null, requestHash,
    });
    if (!(await this.payments.begin(payment))) {
      // The key was claimed meanwhile: its outcome, or (if that attempt just gave it back) ask again shortly.
      const earlier = await this.payments.byCheckoutKey(userId, pay.idempotencyKey!);
      if (!earlier) throw CheckoutErrors.inProgress();
      return this.replay(earlier, requestHash);
    }
    // Should this process die before the charge's outcome is recorded, the payment is voided once its hold runs out.
    this.wake.checkouts?.(this.options.checkoutHoldSeconds * 1000);

    const items: Omit<OrderItem, 'id' | 'orderId' | 'restockedAt'>[] = [];
    const releaseAll = () => Promise.all(items.map((item) => this.stock.release(item.reservationId!).catch(() => undefined)));
    try {
      for (const [i, line] of priced.entries()) {
        const reservationId = `o-${orderId}-${i}`;
        await this.stock.reserve(line.productId, line.quantity, reservationId, this.options.checkoutHoldSeconds);
        items.push({ productId: line.productId, quantity: line.quantity, price: line.price, saleId: null, purchaseId: null, reservationId });
      }
    } catch (err) {
      // Half a checkout holds nothing: every unit reserved so far goes back, and the key may be used again.
      await releaseAll();
      await this.payments.forget(orderId);
      throw err;
    }

    // The order id is the charge's idempotency key: however often this is retried, the provider charges once.
    const charge = await this.charger.charge({ key: orderId, amount: total, customerId: userId, token: pay.paymentToken });
    if (charge.status !== 'APPROVED') {
      await releaseAll();
      if (charge.status === 'DECLINED') {
        await this.payments.declined(orderId, charge.reason);
        throw PaymentErrors.failed(charge.reason, NOTHING_PLACED);
      }
      await this.voidCharge(orderId, charge.reason);
      throw PaymentErrors.timedOut(NOTHING_PLACED);
    }
    const now = this.clock.now();
    const order: Order = {
      id: orderId, userId, source: 'REGULAR', status: 'PLACED', placedAt: now, deliveredAt: null, returnRequestedAt: null,
      stockCommittedAt: null, total,
    };
    if (!(await this.orders.insert(order, items, { ...payment, status: 'PAID', reference: charge.reference, orderId }))) {
      // The payment was given up meanwhile (its checkout looked dead): its void gives the money back.
      await releaseAll();
      throw PaymentErrors.timedOut(NOTHING_PLACED);
    }
    this.wake.lifecycle?.(this.options.dayMs);
    await this.commitStock((await this.orders.byId(orderId))!);
    return (await this.orders.byId(orderId))!;
  }

  /**
   * Checkouts whose process died between claiming their key and recording the charge's outcome: once their stock
   * hold has run out, their charge is voided, and a retry with their key answers PAYMENT_TIMEOUT. Resolves how many
   * and how long until the next checkout still open would be given up.
   */
  async voidAbandonedCheckouts(): Promise<{ voided: number; dueInMs?: number }> {
    const holdMs = this.options.checkoutHoldSeconds * 1000;
    const now = this.clock.now().getTime();
    const oldest = await this.payments.oldestPendingCheckout();
    if (!oldest || oldest.getTime() + holdMs > now) return { voided: 0, ...(oldest ? { dueInMs: oldest.getTime() + holdMs - now } : {}) };
    const abandoned = await this.payments.pendingSince(new Date(now - holdMs), SCHEDULER_BATCH);
    for (const payment of abandoned) await this.voidCharge(payment.id, 'checkout did not finish');
    return { voided: abandoned.length, dueInMs: 0 };
  }

  private async voidCharge(paymentId: string, reason: string): Promise<void> {
    await this.payments.timedOut(paymentId, reason, { key: `void-${paymentId}`, reason: 'charge without an order' }, this.clock.now());
    this.announce();
  }

  /** A checkout retried with its Idempotency-Key: the first one's outcome. */
  private async replay(payment: Payment, requestHash: string): Promise<OrderDetails> {
    if (payment.requestHash !== requestHash) throw CheckoutErrors.keyReused();
    switch (payment.status) {
      case 'PAID':
        return (await this.orders.byId(payment.id))!;
      case 'DECLINED':
        throw PaymentErrors.failed(payment.failure ?? 'declined', NOTHING_PLACED);
      case 'TIMED_OUT':
        throw PaymentErrors.timedOut(NOTHING_PLACED);
      case 'PENDING':
        throw CheckoutErrors.inProgress();
    }
  }

  /**
   * From a `purchase-paid` event: one order per paid purchase, however often the event comes — and only for a
   * purchase purchase-service confirms as paid, with the buyer, sale, price and order id the event names.
   */
  async placeFlashOrder(paid: PurchasePaid): Promise<'placed' | 'already placed' | 'not paid'> {
    const recorded = await this.stock.flashPurchase(paid.purchaseId);
    const confirmed = recorded && ['PAID', 'RESTOCKED'].includes(recorded.status) && paid.quantity === 1 &&
      recorded.orderId === paid.orderId && recorded.buyerId === paid.buyerId && recorded.saleId === paid.saleId && recorded.price === paid.price;
    if (!confirmed) return 'not paid';
    const now = this.clock.now();
    const order: Order = {
      id: paid.orderId, userId: paid.buyerId, source: 'FLASH', status: 'PLACED', placedAt: now, deliveredAt: null,
      returnRequestedAt: null, stockCommittedAt: null, total: paid.price * paid.quantity,
    };
    // purchase-service charged under the purchase id, which is also the order's id.
    const payment = newPayment({
      id: paid.purchaseId, userId: paid.buyerId, saleId: paid.saleId, orderId: order.id, source: 'FLASH', amount: order.total, status: 'PAID',
      reference: paid.paymentReference ?? null, createdAt: new Date(paid.paidAt),
    });
    const inserted = await this.orders.insert(order, [{
      productId: paid.productId, quantity: paid.quantity, price: paid.price, saleId: paid.saleId, purchaseId: paid.purchaseId, reservationId: null,
    }], payment);
    if (!inserted) return 'already placed';
    this.wake.lifecycle?.(this.options.dayMs);
    return 'placed';
  }

  /** Which of these orders exist: purchase-service checks that its paid purchases became orders (OrderChecks there). */
  placedAmong(orderIds: string[]): Promise<string[]> {
    return this.orders.existing(orderIds);
  }

  async get(userId: string, orderId: string): Promise<OrderDetails> {
    const found = await this.orders.byId(orderId);
    if (!found || found.order.userId !== userId) throw notFound(orderId);
    return found;
  }

  async mine(userId: string): Promise<OrderDetails[]> {
    return this.orders.ofUser(userId);
  }

  /** Only before shipping; exactly the order's quantity goes back (flash units to their sale). */
  async cancel(userId: string, orderId: string): Promise<OrderDetails> {
    await this.get(userId, orderId);
    const now = this.clock.now();
    const made = await this.step(orderId, (order) => {
      if (order.status === 'CANCELLED') return undefined;
      if (order.status !== 'PLACED') {
        throw new AppError(409, 'ORDER_NOT_CANCELLABLE', 'Order cannot be cancelled', `The order is ${order.status}; only a PLACED order can be cancelled.`);
      }
      return { to: 'CANCELLED', at: now };
    });
    // The refund was recorded with the cancellation; it is paid out in the background (the answer shows it PENDING).
    if (made) this.announce();
    await this.restock((await this.orders.byId(orderId))!.items);
    return this.get(userId, orderId);
  }

  /** Only while delivered and within a day of delivery; completes a day later. */
  async requestReturn(userId: string, orderId: string): Promise<OrderDetails> {
    await this.get(userId, orderId);
    const now = this.clock.now();
    await this.orders.transition(orderId, (order) => {
      if (order.status === 'RETURN_REQUESTED') return undefined;
      if (!mayReturn(order, now, this.options.dayMs)) {
        throw new AppError(409, 'RETURN_NOT_ALLOWED', 'Return not allowed', 'A return can be asked only within one day of delivery.');
      }
      return { to: 'RETURN_REQUESTED', at: now };
    });
    this.wake.lifecycle?.(this.options.dayMs);
    return this.get(userId, orderId);
  }

  /**
   * The scheduler: moves every order whose next step is due, finishes stock commits and restocks left unfinished.
   * It looks only at due orders (indexes), and resolves how long until the next step of any order falls due.
   * Concurrent runs (replicas) move each order once: each step is a locked, conditional transition.
   */
  async runScheduler(): Promise<{ moved: number; committed: number; restocked: number; dueInMs?: number }> {
    const now = this.clock.now();
    const work = await this.orders.schedulerWork();
    const next = nextStepAt(work.first, this.options.dayMs);
    let moved = 0;
    let candidates = 0;
    if (next && next.getTime() <= now.getTime()) {
      const due = await this.orders.dueForStep(stepCutoffs(now, this.options.dayMs), SCHEDULER_BATCH);
      candidates = due.length;
      for (const candidate of due) {
        for (let step = 0; step < 3; step++) {
          const made = await this.step(candidate.id, (order) => dueTransition(order, now, this.options.dayMs));
          if (!made) break;
          moved++;
        }
      }
    }
    let committed = 0;
    if (work.uncommitted) {
      for (const details of await this.orders.uncommitted(200)) {
        if (await this.commitStock(details).then(() => true, () => false)) committed++;
      }
    }
    // A return completed just now has its quantity to put back too.
    const restocked = work.unrestocked || moved ? await this.restockPending() : 0;
    // Moved orders wait in their next step now: the next run finds when that falls due.
    if (candidates) return { moved, committed, restocked, dueInMs: 0 };
    return { moved, committed, restocked, ...(next ? { dueInMs: Math.max(0, next.getTime() - now.getTime()) } : {}) };
  }

  /** A transition; leaving an order for good asks for its money back in the same transaction. */
  private step(orderId: string, decide: (order: Order) => Omit<Step, 'refund'> | undefined): Promise<Step | undefined> {
    return this.orders.transition(orderId, (order) => {
      const made = decide(order);
      return made && { ...made, refund: refundOnLeaving(orderId, made.to) };
    });
  }

  private async commitStock({ order, items }: OrderDetails): Promise<void> {
    for (const item of items) if (item.reservationId) await this.stock.commit(item.reservationId);
    await this.orders.markStockCommitted(order.id, this.clock.now());
  }

  private async restockPending(): Promise<number> {
    return this.restock(await this.orders.unrestocked(200));
  }

  private async restock(items: OrderItem[]): Promise<number> {
    let restocked = 0;
    for (const item of items.filter((i) => !i.restockedAt)) {
      if (item.purchaseId) await this.stock.restockFlash(item.purchaseId);
      else if (item.reservationId) await this.stock.restockProduct(item.reservationId);
      await this.orders.markRestocked(item, this.clock.now());
      restocked++;
    }
    return restocked;
  }
}
