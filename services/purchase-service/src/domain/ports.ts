import type { EntityManager } from 'typeorm';
import type { FlashSale, Purchase, PurchaseStatus } from './flash-sale';

export interface SaleStore {
  /** Inserts the sale with its units recorded in the stock ledger, in one transaction. */
  insert(sale: Omit<FlashSale, 'createdAt'>): Promise<void>;
  byId(id: string): Promise<FlashSale | undefined>;
  /** Sales not yet ended at `now`, soonest first. */
  notEnded(now: Date): Promise<FlashSale[]>;
}

export interface PurchaseStore {
  byId(id: string): Promise<Purchase | undefined>;
  byKey(buyerId: string, idempotencyKey: string): Promise<Purchase | undefined>;
  /**
   * For a batch of attempts (one query): the purchases made with these buyers' keys (on any sale), and the buyers'
   * purchases on the sale that still take a limit slot.
   */
  forAttempts(saleId: string, attempts: { buyerId: string; idempotencyKey: string }[]): Promise<Purchase[]>;
  /**
   * Writes new held purchases (and their first transition) in the caller's transaction, after taking the limit slot
   * from the purchases in `freeing` (ones whose cooldown is over).
   */
  insertHeld(tx: EntityManager, purchases: Purchase[], freeing: string[]): Promise<void>;
  /** The sale's purchases changed at or after `since`, oldest change first. */
  changedSince(saleId: string, since: Date): Promise<Purchase[]>;
  /**
   * Under a lock on the purchase, in one transaction `tx` (the stock ledger may write in it too): `change` sees the
   * purchase and may return a transition to record, and an event to announce. Resolves its result with the purchase
   * as it now is; undefined when there is no such purchase.
   */
  withPurchaseLock<T>(id: string, change: (purchase: Purchase, tx: EntityManager) => Promise<PurchaseChange<T>>): Promise<{ result: T; purchase: Purchase } | undefined>;
  /**
   * withPurchaseLock for several purchases in one transaction (group commit): `change` sees those that exist and
   * returns a change for each of them. Resolves each one's result and purchase as it now is, by id.
   */
  withPurchaseLocks<T>(
    ids: string[],
    change: (purchases: Purchase[], tx: EntityManager) => Promise<Map<string, PurchaseChange<T>>>,
  ): Promise<Map<string, { result: T; purchase: Purchase }>>;
  heldUntil(now: Date, limit: number): Promise<Purchase[]>;
  /** Purchases that ended unpaid while their unit is still held in the stock ledger (up to `limit`). */
  endedWithUnitHeld(limit: number): Promise<Purchase[]>;
  /** When the next held purchase runs out, if any is held. */
  nextHoldExpiry(): Promise<Date | undefined>;
  /** Deletes up to `limit` purchases that ended unpaid before `before`, with their transitions; returns how many. */
  purgeUnpaid(before: Date, limit: number): Promise<number>;
  /** When the oldest purchase that ended unpaid ended, if there is one. */
  oldestUnpaid(): Promise<Date | undefined>;
  /** When the next paid purchase is to be checked for its order, if any is. */
  nextOrderCheck(): Promise<Date | undefined>;
  /** Paid purchases due to be checked for their order at `now` (up to `limit`), with their charge's reference. */
  orderChecksDue(now: Date, limit: number): Promise<(Purchase & { paymentReference: string | null })[]>;
  /**
   * In one transaction: the purchases `found` as orders are not checked again; the `missing` ones are checked again at
   * `checkAgainAt`, and their events written to the outbox once more.
   */
  ordersChecked(found: string[], missing: { id: string; event: OutboxEvent }[], checkAgainAt: Date): Promise<void>;
  ofBuyer(buyerId: string): Promise<(Purchase & { productName: string; productId: string })[]>;
  counts(saleId: string): Promise<Record<PurchaseStatus, number>>;
}

/** What a change under a purchase's lock makes of it: its result, and a transition and an event to record, if any. */
export interface PurchaseChange<T> {
  result: T;
  to?: PurchaseStatus;
  reason?: string;
  orderId?: string;
  /** The charge's reference at the provider (a paid purchase's), kept to send its event again if need be. */
  paymentReference?: string;
  event?: OutboxEvent;
}

/** Which orders order-service has (through Dapr): a paid purchase's order has the purchase's id. */
export interface OrderBook {
  placed(orderIds: string[]): Promise<Set<string>>;
}

export interface OutboxEvent {
  topic: string;
  data: Record<string, unknown>;
}

/** What the catalog says about a product (product-service, through Dapr). */
export interface ProductCatalog {
  product(id: string): Promise<{ id: string; name: string; price: number } | undefined>;
}
