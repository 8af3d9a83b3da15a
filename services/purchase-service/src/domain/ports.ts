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
   * Serialises a buyer's attempts on a sale: under a lock on (sale, buyer), hands `decide` the purchase already made
   * with this key (if any) and how many purchases count against the limit; inserts the purchase `decide` returns.
   */
  withBuyerLock(
    saleId: string,
    buyerId: string,
    idempotencyKey: string,
    decide: (state: { existing?: Purchase; active: number }) => Promise<Purchase>,
    /** Runs when the attempt's turn comes, before any locking: throwing here costs no database work. */
    onTurn?: () => void,
  ): Promise<Purchase>;
  /** Under a lock on the purchase: `change` sees it and may return a transition to record (with an event). */
  withPurchaseLock<T>(
    id: string,
    change: (purchase: Purchase) => Promise<{ result: T; to?: PurchaseStatus; reason?: string; orderId?: string; event?: OutboxEvent }>,
  ): Promise<T | undefined>;
  heldUntil(now: Date, limit: number): Promise<Purchase[]>;
  ofBuyer(buyerId: string): Promise<(Purchase & { productName: string; productId: string })[]>;
  counts(saleId: string): Promise<Record<PurchaseStatus, number>>;
}

export interface OutboxEvent {
  topic: string;
  data: Record<string, unknown>;
}

/** What the catalog says about a product (product-service, through Dapr). */
export interface ProductCatalog {
  product(id: string): Promise<{ id: string; name: string; price: number } | undefined>;
}
