import { baseConfigShape, loadConfig, z } from '@flash/http';

export const SERVICE_NAME = 'purchase-service';

export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(SERVICE_NAME, { ...baseConfigShape, DB_NAME: z.string().regex(/^[a-z0-9_]+$/).default('flash_purchases') }, env);
}

export type ServiceConfig = ReturnType<typeof readConfig>;
