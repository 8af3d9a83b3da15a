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
    STOCK_SWEEP_SECONDS: z.coerce.number().min(0.1).default(2),
    STOCK_ORPHAN_AFTER_SECONDS: z.coerce.number().min(1).default(30),
    /** After a SOLD_OUT, further attempts on this instance answer SOLD_OUT from memory for this long. */
    SOLD_OUT_RECHECK_MS: z.coerce.number().int().min(0).max(5000).default(250),
    ...paymentConfigShape,
    OUTBOX_RELAY_MS: z.coerce.number().int().min(50).default(500),
  }, env);
}

export type PurchaseConfig = ReturnType<typeof readConfig>;
