export type SaleStatus = 'SCHEDULED' | 'LIVE' | 'SOLD_OUT' | 'ENDED';

export interface FlashSale {
  id: string;
  productId: string;
  /** Snapshot of the product when the sale was made. */
  productName: string;
  price: number;
  quantity: number;
  startsAt: Date;
  endsAt: Date;
  perUserLimit: number;
  holdSeconds: number;
  createdAt: Date;
}

export type NewFlashSale = Pick<FlashSale, 'productId' | 'quantity' | 'startsAt' | 'endsAt' | 'perUserLimit' | 'holdSeconds'>;

/** The sale's status at `now`, judged from its stored times: the same answer on every instance. */
export function saleStatus(sale: Pick<FlashSale, 'startsAt' | 'endsAt'>, remaining: number, now: Date): SaleStatus {
  if (now.getTime() < sale.startsAt.getTime()) return 'SCHEDULED';
  if (now.getTime() >= sale.endsAt.getTime()) return 'ENDED';
  return remaining > 0 ? 'LIVE' : 'SOLD_OUT';
}

/** RESTOCKED: paid, then the order was cancelled or returned and the unit went back to the sale. */
export type PurchaseStatus = 'HELD' | 'PAID' | 'PAYMENT_FAILED' | 'ABANDONED' | 'EXPIRED' | 'RESTOCKED';

export interface Purchase {
  id: string;
  saleId: string;
  buyerId: string;
  idempotencyKey: string;
  status: PurchaseStatus;
  price: number;
  holdExpiresAt: Date;
  orderId: string | null;
  /** Which of the buyer's per-sale slots (0 … perUserLimit-1) it takes while it counts against the limit; else null. */
  limitSlot: number | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One key per (buyer, Idempotency-Key): what an attempt is looked up by, in a batch, in a book, in a query. */
export const attemptKey = (buyerId: string, idempotencyKey: string) => `${buyerId}\n${idempotencyKey}`;

/** Statuses that count against the buyer's per-user limit. */
export const COUNTS_AGAINST_LIMIT: PurchaseStatus[] = ['HELD', 'PAID'];
/**
 * Holds the buyer walked away from or let run out keep their slot for a cooldown: hold → abandon → hold with fresh
 * keys cannot keep units away from other buyers. A declined payment frees its slot at once (the buyer did try to pay).
 */
export const KEEPS_SLOT_FOR_COOLDOWN: PurchaseStatus[] = ['ABANDONED', 'EXPIRED'];

/**
 * Purchases that never sold anything: after the retention they are only there to answer a retried Idempotency-Key,
 * long after any client retries, so they are purged with their transitions. PAID and RESTOCKED (money moved) stay.
 */
export const PURGED_AFTER_RETENTION: PurchaseStatus[] = ['PAYMENT_FAILED', 'ABANDONED', 'EXPIRED'];

/** Whether `p` still occupies its limit slot at `now`. */
export function occupiesSlot(p: Pick<Purchase, 'status' | 'limitSlot' | 'updatedAt'>, now: number, cooldownMs: number): boolean {
  if (p.limitSlot === null) return false;
  if (COUNTS_AGAINST_LIMIT.includes(p.status)) return true;
  return KEEPS_SLOT_FOR_COOLDOWN.includes(p.status) && now - p.updatedAt.getTime() < cooldownMs;
}

/** The lowest of the buyer's `limit` slots that `taken` does not use; undefined when the buyer is at the limit. */
export function freeSlot(taken: ReadonlySet<number>, limit: number): number | undefined {
  for (let slot = 0; slot < limit; slot++) if (!taken.has(slot)) return slot;
  return undefined;
}
