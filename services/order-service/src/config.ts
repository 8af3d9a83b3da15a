import { baseConfigShape, loadConfig, z } from '@flash/http';
import { paymentConfigShape } from '@flash/payments';

export const SERVICE_NAME = 'order-service';

export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(SERVICE_NAME, {
    ...baseConfigShape,
    DB_NAME: z.string().regex(/^[a-z0-9_]+$/).default('flash_orders'),
    /** Regular checkouts one user may place per replica per CHECKOUTS_WINDOW_SECONDS (429 beyond): no draining the catalogue. */
    CHECKOUTS_PER_USER: z.coerce.number().int().min(1).max(10_000).default(20),
    CHECKOUTS_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
    /** The length of a "day" in the order lifecycle; shorten it to watch orders ship and arrive in a demo. */
    ORDER_DAY_SECONDS: z.coerce.number().min(1).default(86_400),
    /** How long regular checkout holds stock in product-service before the order commits it. */
    CHECKOUT_HOLD_SECONDS: z.coerce.number().int().min(10).default(900),
    ...paymentConfigShape,
    /** Refunds the provider failed or did not answer are tried again after this, doubling up to the maximum. */
    REFUND_RETRY_BASE_MS: z.coerce.number().int().min(10).default(1000),
    REFUND_RETRY_MAX_MS: z.coerce.number().int().min(10).default(60_000),
  }, env);
}

export type OrderConfig = ReturnType<typeof readConfig>;
