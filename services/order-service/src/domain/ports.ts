import type { RefundRequested } from '@flash/events';
import type { FirstInStep, Order, OrderItem, OrderStatus, OrderTransition, WishlistItem } from './order';
import type { MoneyScope, Payment, RefundRequest } from './payment';

export interface OrderDetails {
  order: Order;
  items: OrderItem[];
  transitions: OrderTransition[];
  /** The charge behind the order and its refund (orders placed before payments were recorded have none). */
  payment?: Payment;
}

/** A step of an order; leaving it for good may ask for its money back. */
export interface Step {
  to: OrderStatus;
  at: Date;
  refund?: RefundRequest;
}

export interface OrderStore {
  /**
   * Inserts an order, its items, its PLACED transition (announced) and its payment at once: a flash payment is
   * recorded, a checkout's PENDING payment becomes PAID. False if the order exists or the payment is no longer PENDING.
   */
  insert(order: Order, items: Omit<OrderItem, 'id' | 'orderId' | 'restockedAt'>[], payment: Payment): Promise<boolean>;
  byId(id: string): Promise<OrderDetails | undefined>;
  /** Which of these orders exist (one query). */
  existing(ids: string[]): Promise<string[]>;
  ofUser(userId: string): Promise<OrderDetails[]>;
  /**
   * Under a lock on the order: `decide` returns the transition to make (or nothing); it is recorded with its time
   * and announced. Returns the transition made, if any.
   */
  transition(id: string, decide: (order: Order) => Step | undefined): Promise<Step | undefined>;
  /**
   * What the scheduler has to do, from indexes alone: the first order waiting in each step, and whether any order
   * waits for its stock to be committed or to go back.
   */
  schedulerWork(): Promise<{ first: FirstInStep; uncommitted: boolean; unrestocked: boolean }>;
  /** Orders whose step is due: waiting in a step since before its cutoff. */
  dueForStep(cutoffs: Required<FirstInStep>, limit: number): Promise<Order[]>;
  /** Regular orders whose reserved stock is not committed yet. */
  uncommitted(limit: number): Promise<OrderDetails[]>;
  markStockCommitted(id: string, at: Date): Promise<void>;
  /** Items of cancelled or returned orders not yet back in stock. */
  unrestocked(limit: number): Promise<OrderItem[]>;
  /** The item is back in stock (and its order no longer waits for a restock once all its items are). */
  markRestocked(item: OrderItem, at: Date): Promise<void>;
}

export interface PaymentStore {
  byId(id: string): Promise<Payment | undefined>;
  byCheckoutKey(userId: string, idempotencyKey: string): Promise<Payment | undefined>;
  /** Records a checkout's PENDING payment, claiming its Idempotency-Key; false if the key is taken. */
  begin(payment: Payment): Promise<boolean>;
  /** A checkout that charged nothing (short stock): its PENDING payment goes, and its key may be used again. */
  forget(id: string): Promise<void>;
  declined(id: string, reason: string): Promise<void>;
  /** A PENDING charge without an answer: TIMED_OUT, with its void requested (announced) at once. */
  timedOut(id: string, reason: string, refund: RefundRequest, at: Date): Promise<void>;
  /** The refund of a charge, asked by an event: recorded PENDING once (the payment too, if it is not known yet). */
  requestRefund(request: RefundRequested, at: Date): Promise<void>;
  refundsDue(now: Date, limit: number): Promise<Payment[]>;
  /** When the next attempt of a pending refund is due, if any refund is pending. */
  nextRefundAttempt(): Promise<Date | undefined>;
  refunded(id: string, outcome: { reference: string; amount: number }, at: Date): Promise<boolean>;
  refundFailed(id: string, error: string, nextAttemptAt: Date): Promise<void>;
  /** Checkouts still PENDING that began before `before` (their process died mid-charge). */
  pendingSince(before: Date, limit: number): Promise<Payment[]>;
  /** When the oldest checkout still PENDING began, if any. */
  oldestPendingCheckout(): Promise<Date | undefined>;
  inScope(scope: MoneyScope): Promise<Payment[]>;
  /** The value of the orders in scope that still stand. */
  standingValue(scope: MoneyScope): Promise<number>;
}

export interface WishlistStore {
  list(userId: string): Promise<WishlistItem[]>;
  byId(userId: string, id: string): Promise<WishlistItem | undefined>;
  /** Adds the product, or adds to its quantity if it is already on the list. */
  add(item: WishlistItem): Promise<WishlistItem>;
  setQuantity(userId: string, id: string, quantity: number): Promise<void>;
  remove(userId: string, id: string): Promise<boolean>;
}

/** product-service and purchase-service, reached through Dapr invocation. */
export interface StockGateway {
  product(id: string): Promise<{ id: string; name: string; price: number } | undefined>;
  /** Throws AppError INSUFFICIENT_STOCK when short. */
  reserve(productId: string, quantity: number, reservationId: string, holdSeconds: number): Promise<void>;
  commit(reservationId: string): Promise<void>;
  release(reservationId: string): Promise<void>;
  /** Sold units of a regular order back to product stock. */
  restockProduct(reservationId: string): Promise<void>;
  /** A flash unit back to its sale. */
  restockFlash(purchaseId: string): Promise<void>;
  /** A flash purchase as purchase-service recorded it; undefined if it has none. */
  flashPurchase(purchaseId: string): Promise<RecordedPurchase | undefined>;
}

export interface RecordedPurchase {
  purchaseId: string;
  saleId: string;
  buyerId: string;
  status: string;
  price: number;
  orderId: string | null;
}
