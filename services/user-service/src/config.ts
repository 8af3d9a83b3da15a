import { baseConfigShape, loadConfig, z } from '@flash/http';

export const SERVICE_NAME = 'user-service';

const keyHint = (bytes: number) => `${bytes} random bytes, base64 (e.g. \`openssl rand -base64 ${bytes}\`)`;
const key = (bytes: number) =>
  z.string({ required_error: `required: ${keyHint(bytes)}` })
    .transform((v) => Buffer.from(v, 'base64'))
    .refine((b) => b.length === bytes, `must decode from base64 to exactly ${bytes} bytes`);

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** `id:base64,id:base64` — keys that only decrypt data sealed before a rotation. */
const retiredKeys = z
  .string()
  .default('')
  .transform((v, ctx) => {
    const keys: Record<string, Buffer> = {};
    for (const pair of v.split(',').map((p) => p.trim()).filter(Boolean)) {
      const [id, encoded] = pair.split(':');
      const bytes = Buffer.from(encoded ?? '', 'base64');
      if (!id || !KEY_ID.test(id) || bytes.length !== 32) {
        ctx.addIssue({ code: 'custom', message: `each entry must be <key id>:<${keyHint(32)}>` });
        return z.NEVER;
      }
      keys[id] = bytes;
    }
    return keys;
  });

const seconds = (fallback: number, max?: number) => {
  const base = z.coerce.number().int().min(1);
  return (max ? base.max(max) : base).default(fallback);
};

export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(SERVICE_NAME, {
    ...baseConfigShape,
    DB_NAME: z.string().regex(/^[a-z0-9_]+$/).default('flash_users'),
    /** AES-256-GCM key for personal data at rest, and its id (stored with every sealed value). */
    PII_ENCRYPTION_KEY: key(32),
    PII_ENCRYPTION_KEY_ID: z.string().regex(KEY_ID, 'letters, digits, _ and - (at most 32)').default('k1'),
    /** Earlier encryption keys, still needed to read data sealed with them. */
    PII_RETIRED_KEYS: retiredKeys,
    /** HMAC key of the email blind index (and of verification code digests). */
    BLIND_INDEX_KEY: key(32),
    /** The demo admin, created at start-up when both are set. */
    ADMIN_EMAIL: z.string().email().optional(),
    ADMIN_PASSWORD: z.string().min(8).optional(),
    /** Access tokens are short-lived (at most 15 minutes); refresh tokens keep a session going. */
    ACCESS_TOKEN_TTL_SECONDS: seconds(600, 900),
    REFRESH_TOKEN_TTL_SECONDS: seconds(14 * 24 * 3600),
    VERIFICATION_CODE_TTL_SECONDS: seconds(300),
    /** How soon a replica starts signing with a key rotated in elsewhere (`npm run rotate-signing-key`). */
    SIGNING_KEY_RELOAD_SECONDS: seconds(30, 300),
    /** How often revocation marks of recent logouts are written again (they live in Redis, which may lose them). */
    REVOCATION_REPUBLISH_SECONDS: seconds(15, 300),
    /** Failed logins allowed per account, and login attempts per client address, in their windows. */
    LOGIN_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).default(5),
    LOGIN_FAILURE_WINDOW_SECONDS: seconds(15 * 60),
    LOGIN_ATTEMPTS_PER_CLIENT: z.coerce.number().int().min(1).default(30),
    LOGIN_CLIENT_WINDOW_SECONDS: seconds(60),
    SMTP_HOST: z.string().min(1).default('127.0.0.1'),
    SMTP_PORT: z.coerce.number().int().min(1).max(65535).default(1025),
    SMTP_SECURE: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
    SMTP_USER: z.string().optional(),
    SMTP_PASSWORD: z.string().optional(),
    MAIL_FROM: z.string().min(3).default('Flash Sale <no-reply@flash-sale.local>'),
  }, env);
}

export type UserConfig = ReturnType<typeof readConfig>;
