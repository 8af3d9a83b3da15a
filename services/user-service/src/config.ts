import { baseConfigShape, ConfigError, loadConfig, z } from '@flash/http';
import { SCRYPT_COST } from './domain/passwords';

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

const count = (fallback: number) => z.coerce.number().int().min(1).default(fallback);

export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(SERVICE_NAME, {
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
    /** Failed logins one client address may make per window; successful logins never count. */
    LOGIN_FAILURES_PER_CLIENT: count(100),
    LOGIN_CLIENT_WINDOW_SECONDS: seconds(10 * 60),
    /** Failures one address may make at one account before each further try waits 1, 2, 4 … s, up to the longest wait. */
    LOGIN_FREE_FAILURES: count(5),
    LOGIN_FAILURE_WINDOW_SECONDS: seconds(60 * 60),
    LOGIN_MAX_DELAY_SECONDS: seconds(15 * 60),
    /** Signups per client address per window. */
    SIGNUPS_PER_CLIENT: count(30),
    SIGNUP_CLIENT_WINDOW_SECONDS: seconds(10 * 60),
    /** Emailed codes (verification resends and password resets) per email and per client address, per window. */
    CODE_REQUESTS_PER_ACCOUNT: count(3),
    CODE_REQUESTS_PER_CLIENT: count(20),
    CODE_REQUEST_WINDOW_SECONDS: seconds(60 * 60),
    /** Code guesses per email per day, whatever the number of codes sent (verification and reset each). */
    CODE_GUESSES_PER_DAY: count(20),
    /** Password hashes (scrypt, ~128 MiB each) computed at once per replica, and how many may wait; beyond, 503. */
    /** scrypt's cost N (r=8, p=1): OWASP's minimum 2^17 by default; production refuses less, tests may lower it. */
    PASSWORD_SCRYPT_N: z.coerce.number().int().min(2 ** 10).max(2 ** 20).refine((n) => (n & (n - 1)) === 0, 'must be a power of two').default(2 ** 17),
    PASSWORD_HASH_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(2),
    PASSWORD_HASH_QUEUE: z.coerce.number().int().min(0).default(200),
    SMTP_HOST: z.string().min(1).default('127.0.0.1'),
    SMTP_PORT: z.coerce.number().int().min(1).max(65535).default(1025),
    SMTP_SECURE: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
    SMTP_USER: z.string().optional(),
    SMTP_PASSWORD: z.string().optional(),
    MAIL_FROM: z.string().min(3).default('Flash Sale <no-reply@flash-sale.local>'),
  }, env);
  if (env.NODE_ENV === 'production' && config.PASSWORD_SCRYPT_N < SCRYPT_COST.N) {
    throw new ConfigError(SERVICE_NAME, [`PASSWORD_SCRYPT_N: below ${SCRYPT_COST.N} (OWASP's minimum) in production`]);
  }
  return config;
}

export type UserConfig = ReturnType<typeof readConfig>;
