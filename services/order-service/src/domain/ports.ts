import type { Order, OrderItem, OrderStatus, OrderTransition, WishlistItem } from './order';

export interface OrderDetails {
  order: Order;
  items: OrderItem[];
  transitions: OrderTransition[];
}

export interface OrderStore {
  /** Inserts an order, its items and its PLACED transition (announced) at once; false if the id exists. */
  insert(order: Order, items: Omit<OrderItem, 'id' | 'orderId' | 'restockedAt'>[]): Promise<boolean>;
  byId(id: string): Promise<OrderDetails | undefined>;
  ofUser(userId: string): Promise<OrderDetails[]>;
  /**
   * Under a lock on the order: `decide` returns the transition to make (or nothing); it is recorded with its time
   * and announced. Returns the transition made, if any.
   */
  transition(id: string, decide: (order: Order) => { to: OrderStatus; at: Date } | undefined): Promise<{ to: OrderStatus; at: Date } | undefined>;
  /** Orders a scheduler run may move. */
  movable(limit: number): Promise<Order[]>;
  /** Regular orders whose reserved stock is not committed yet. */
  uncommitted(limit: number): Promise<OrderDetails[]>;
  markStockCommitted(id: string, at: Date): Promise<void>;
  /** Items of cancelled or returned orders not yet back in stock. */
  unrestocked(limit: number): Promise<OrderItem[]>;
  markRestocked(itemId: number, at: Date): Promise<void>;
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
