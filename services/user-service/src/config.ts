import { baseConfigShape, loadConfig, z } from '@flash/http';

export const SERVICE_NAME = 'user-service';

const key = (bytes: number) =>
  z.string({ required_error: `required: ${bytes} random bytes, base64 (e.g. \`openssl rand -base64 ${bytes}\`)` })
    .transform((v) => Buffer.from(v, 'base64'))
    .refine((b) => b.length === bytes, `must decode from base64 to exactly ${bytes} bytes`);

export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(SERVICE_NAME, {
    ...baseConfigShape,
    DB_NAME: z.string().regex(/^[a-z0-9_]+$/).default('flash_users'),
    /** AES-256-GCM key for personal data at rest. */
    PII_ENCRYPTION_KEY: key(32),
    /** HMAC key of the email blind index. */
    BLIND_INDEX_KEY: key(32),
    /** The demo admin, created at start-up when both are set. */
    ADMIN_EMAIL: z.string().email().optional(),
    ADMIN_PASSWORD: z.string().min(8).optional(),
  }, env);
}

export type UserConfig = ReturnType<typeof readConfig>;
