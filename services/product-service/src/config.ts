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
  }, env);
}

export type ProductConfig = ReturnType<typeof readConfig>;
