import { baseConfigShape, loadConfig, z } from '@flash/http';

export const SERVICE_NAME = 'product-service';

export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(SERVICE_NAME, {
    ...baseConfigShape,
    DB_NAME: z.string().regex(/^[a-z0-9_]+$/).default('flash_products'),
    /** The services whose documents make up the public OpenAPI document, by Dapr app id. */
    OPENAPI_SOURCES: z
      .string()
      .default('user-service,product-service,purchase-service,order-service')
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
    /** State keys one product's stock is split over: more shards, fewer ETag conflicts between concurrent buyers. */
    STOCK_SHARDS: z.coerce.number().int().min(1).max(64).default(8),
    /** The product page's stock is re-read from the counter after this long, and never shown older than twice it. */
    STOCK_SNAPSHOT_MS: z.coerce.number().int().min(10).max(5000).default(500),
    /** How long reserved units are held when the caller names no time. */
    RESERVATION_HOLD_SECONDS: z.coerce.number().int().min(1).default(900),
    /** A counter movement the ledger has not settled after this long belonged to a dead request. */
    STOCK_ORPHAN_AFTER_SECONDS: z.coerce.number().min(1).default(10),
  }, env);
}

export type ProductConfig = ReturnType<typeof readConfig>;
