export type OrderStatus = 'PLACED' | 'SHIPPING' | 'DELIVERED' | 'CANCELLED' | 'RETURN_REQUESTED' | 'RETURNED';
export type OrderSource = 'FLASH' | 'REGULAR';

export interface Order {
  id: string;
  userId: string;
  source: OrderSource;
  status: OrderStatus;
  total: number;
  placedAt: Date;
  deliveredAt: Date | null;
  returnRequestedAt: Date | null;
  /** Regular orders: when product-service committed the reserved stock. */
  stockCommittedAt: Date | null;
}

export interface OrderItem {
  id: number;
  orderId: string;
  productId: string;
  quantity: number;
  price: number;
  /** Flash orders: the sale and purchase the unit came from. */
  saleId: string | null;
  purchaseId: string | null;
  /** Regular orders: the product-service reservation. */
  reservationId: string | null;
  /** When the quantity went back to stock (cancel, return). */
  restockedAt: Date | null;
}

export interface OrderTransition {
  id: number;
  orderId: string;
  fromStatus: OrderStatus | null;
  toStatus: OrderStatus;
  at: Date;
}

/** The most units one wishlist item holds; adding more to an item stops there. */
export const WISHLIST_MAX_QUANTITY = 100;

export interface WishlistItem {
  id: string;
  userId: string;
  productId: string;
  productName: string;
  quantity: number;
  addedAt: Date;
}

const DAY = (dayMs: number, days: number) => days * dayMs;

/**
 * The scheduler's rule: the transition due for an order at `now`, and when it fell due.
 * PLACED → SHIPPING one day after the order, → DELIVERED two days after it; a return completes a day after it was asked.
 */
export function dueTransition(order: Order, now: Date, dayMs: number): { to: OrderStatus; at: Date } | undefined {
  const placed = order.placedAt.getTime();
  if (order.status === 'PLACED' && now.getTime() >= placed + DAY(dayMs, 1)) return { to: 'SHIPPING', at: new Date(placed + DAY(dayMs, 1)) };
  if (order.status === 'SHIPPING' && now.getTime() >= placed + DAY(dayMs, 2)) return { to: 'DELIVERED', at: new Date(placed + DAY(dayMs, 2)) };
  if (order.status === 'RETURN_REQUESTED' && order.returnRequestedAt) {
    const due = order.returnRequestedAt.getTime() + DAY(dayMs, 1);
    if (now.getTime() >= due) return { to: 'RETURNED', at: new Date(due) };
  }
  return undefined;
}

/** The first order waiting in each step: when it was placed (PLACED, SHIPPING) or its return asked. */
export interface FirstInStep {
  placed?: Date;
  shipping?: Date;
  returnRequested?: Date;
}

/** The orders whose step is due at `now` (dueTransition's rule, as times an index can range over). */
export function stepCutoffs(now: Date, dayMs: number): Required<FirstInStep> {
  return {
    placed: new Date(now.getTime() - DAY(dayMs, 1)),
    shipping: new Date(now.getTime() - DAY(dayMs, 2)),
    returnRequested: new Date(now.getTime() - DAY(dayMs, 1)),
  };
}

/** When the next step of any order falls due, from the first order waiting in each step. */
export function nextStepAt(first: FirstInStep, dayMs: number): Date | undefined {
  const times = [
    first.placed && first.placed.getTime() + DAY(dayMs, 1),
    first.shipping && first.shipping.getTime() + DAY(dayMs, 2),
    first.returnRequested && first.returnRequested.getTime() + DAY(dayMs, 1),
  ].filter((t): t is number => t !== undefined);
  return times.length ? new Date(Math.min(...times)) : undefined;
}

/** A return may be asked while delivered and within a day of delivery. */
export function mayReturn(order: Order, now: Date, dayMs: number): boolean {
  return order.status === 'DELIVERED' && order.deliveredAt !== null && now.getTime() <= order.deliveredAt.getTime() + dayMs;
}

/** Orders that no longer stand: their quantity goes back to stock and their money back to the shopper. */
export const RESTOCKING: OrderStatus[] = ['CANCELLED', 'RETURNED'];
