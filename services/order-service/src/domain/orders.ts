import { randomUUID } from 'node:crypto';
import type { PurchasePaid } from '@flash/events';
import { AppError } from '@flash/http';
import type { Clock } from './clock';
import { dueTransition, mayReturn, type Order, type OrderItem } from './order';
import type { OrderDetails, OrderStore, StockGateway } from './ports';

export interface CheckoutLine {
  productId: string;
  quantity: number;
}

export interface OrdersOptions {
  dayMs: number;
  checkoutHoldSeconds: number;
}

const notFound = (id: string) => AppError.notFound(`Order ${id}`);

/** Orders from checkout and from paid flash purchases, and their life: ship, deliver, cancel, return. */
export class Orders {
  constructor(
    private readonly orders: OrderStore,
    private readonly stock: StockGateway,
    private readonly clock: Clock,
    private readonly options: OrdersOptions,
  ) {}

  /** Regular checkout: every line's stock is reserved first; short stock creates nothing and holds nothing. */
  async checkout(userId: string, lines: CheckoutLine[]): Promise<OrderDetails> {
    const orderId = randomUUID();
    const items: Omit<OrderItem, 'id' | 'orderId' | 'restockedAt'>[] = [];
    try {
      for (const [i, line] of lines.entries()) {
        const product = await this.stock.product(line.productId);
        if (!product) throw AppError.validation([{ field: `items.${i}.productId`, message: 'no such product' }]);
        const reservationId = `o-${orderId}-${i}`;
        await this.stock.reserve(line.productId, line.quantity, reservationId, this.options.checkoutHoldSeconds);
        items.push({ productId: line.productId, quantity: line.quantity, price: product.price, saleId: null, purchaseId: null, reservationId });
      }
    } catch (err) {
      // Half a checkout holds nothing: every unit reserved so far goes back.
      await Promise.all(items.map((item) => this.stock.release(item.reservationId!).catch(() => undefined)));
      throw err;
    }
    const now = this.clock.now();
    const order: Order = {
      id: orderId, userId, source: 'REGULAR', status: 'PLACED', placedAt: now, deliveredAt: null, returnRequestedAt: null,
      stockCommittedAt: null, total: items.reduce((sum, item) => sum + item.price * item.quantity, 0),
    };
    await this.orders.insert(order, items);
    await this.commitStock((await this.orders.byId(orderId))!);
    return (await this.orders.byId(orderId))!;
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
    const order: Order = {
      id: paid.orderId, userId: paid.buyerId, source: 'FLASH', status: 'PLACED', placedAt: this.clock.now(), deliveredAt: null,
      returnRequestedAt: null, stockCommittedAt: null, total: paid.price * paid.quantity,
    };
    const inserted = await this.orders.insert(order, [{
      productId: paid.productId, quantity: paid.quantity, price: paid.price, saleId: paid.saleId, purchaseId: paid.purchaseId, reservationId: null,
    }]);
    return inserted ? 'placed' : 'already placed';
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
    await this.orders.transition(orderId, (order) => {
      if (order.status === 'CANCELLED') return undefined;
      if (order.status !== 'PLACED') {
        throw new AppError(409, 'ORDER_NOT_CANCELLABLE', 'Order cannot be cancelled', `The order is ${order.status}; only a PLACED order can be cancelled.`);
      }
      return { to: 'CANCELLED', at: now };
    });
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
    return this.get(userId, orderId);
  }

  /**
   * The scheduler (Dapr cron binding): moves every order whose next step is due, finishes stock commits and
   * restocks left unfinished. Concurrent runs move each order once (each step is a locked, conditional transition).
   */
  async runScheduler(): Promise<{ moved: number; committed: number; restocked: number }> {
    const now = this.clock.now();
    let moved = 0;
    for (const candidate of await this.orders.movable(500)) {
      for (let step = 0; step < 3; step++) {
        const made = await this.orders.transition(candidate.id, (order) => dueTransition(order, now, this.options.dayMs));
        if (!made) break;
        moved++;
      }
    }
    let committed = 0;
    for (const details of await this.orders.uncommitted(200)) {
      if (await this.commitStock(details).then(() => true, () => false)) committed++;
    }
    return { moved, committed, restocked: await this.restockPending() };
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
      await this.orders.markRestocked(item.id, this.clock.now());
      restocked++;
    }
    return restocked;
  }
}
