import { baseConfigShape, loadConfig, z } from '@flash/http';
import { paymentConfigShape } from '@flash/payments';

export const SERVICE_NAME = 'purchase-service';

export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(SERVICE_NAME, {
    ...baseConfigShape,
    DB_NAME: z.string().regex(/^[a-z0-9_]+$/).default('flash_purchases'),
    DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(60),
    /** State keys one sale's units are split over. */
    STOCK_SHARDS: z.coerce.number().int().min(1).max(64).default(8),
    STOCK_ORPHAN_AFTER_SECONDS: z.coerce.number().min(1).default(10),
    /**
     * Each replica's snapshot of a sale's free units (the sale page, sold-out refusals) is re-read after this long and
     * never served older than twice it: a unit that comes back is offered again on every replica within that.
     */
    SALE_SNAPSHOT_MS: z.coerce.number().int().min(10).max(5000).default(500),
    /** How long after a sale stops selling its refusals still look in the database (a hold may still be committing). */
    /** Purchase attempts one user may make per replica per PURCHASE_ATTEMPT_WINDOW_SECONDS (429 beyond). */
    PURCHASE_ATTEMPTS_PER_USER: z.coerce.number().int().min(1).max(10_000).default(10),
    PURCHASE_ATTEMPT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(3600).default(5),
    /** Attempts waiting for a sale's next batch on one replica; beyond it: 503 with Retry-After. */
    HOLD_QUEUE_LIMIT: z.coerce.number().int().min(1).max(100_000).default(5000),
    /** An abandoned or expired hold counts against its buyer's per-sale limit for this long (no hold → abandon loops). */
    HOLD_COOLDOWN_SECONDS: z.coerce.number().int().min(0).max(86_400).default(600),
    /** Purchases that ended unpaid (failed, abandoned, expired) are deleted with their transitions this long after. */
    UNPAID_PURCHASE_RETENTION_SECONDS: z.coerce.number().int().min(1).default(30 * 86_400),
    /**
     * Hold batches of one sale written at once per replica (more start only when attempts pile up). One: on a busy
     * machine a second and third batch beside it only split the same CPU into more, smaller round trips (capacity at
     * 1,000/s, three pairs: p99 68–113 ms with 1 against 115–340 ms with 3).
     */
    HOLD_BATCHES_IN_FLIGHT: z.coerce.number().int().min(1).max(16).default(1),
    /** After a sale ends, refusals ask the database this long (a batch taken before the end may still be committing). */
    HOLD_SETTLE_MS: z.coerce.number().int().min(100).max(60_000).default(2000),
    /**
     * A paid purchase is looked for among order-service's orders this long after it was paid, and, if its order is
     * missing (its event lost with the broker's data), its event is sent again and it is looked for again as long after.
     */
    ORDER_CHECK_SECONDS: z.coerce.number().min(0.1).max(86_400).default(60),
    ...paymentConfigShape,
  }, env);
}

export type PurchaseConfig = ReturnType<typeof readConfig>;
