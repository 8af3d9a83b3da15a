import { randomBytes, scryptSync } from 'node:crypto';
import { ConfigError, type AppError } from '@flash/http';
import { readConfig } from '../src/config';
import { PasswordHasher } from '../src/domain/passwords';
import { PersonalDataVault } from '../src/domain/personal-data';
import type { VerificationCode } from '../src/domain/user';
import { judgeCode, MAX_FAILED_ATTEMPTS } from '../src/domain/verification';

const key = () => randomBytes(32);

describe('personal data vault', () => {
  const index = key();
  const old = { id: 'k1', key: key() };
  const vault = new PersonalDataVault({ current: old, retired: {}, index });

  it('when data is sealed, then only the same owner context opens it, and a changed byte is detected', () => {
    const sealed = vault.seal({ email: 'a@example.test' }, 'user-1');
    expect(sealed).not.toContain('a@example.test');
    expect(vault.open(sealed, 'user-1')).toEqual({ email: 'a@example.test' });
    expect(() => vault.open(sealed, 'user-2')).toThrow();
    const parts = sealed.split('.');
    const body = Buffer.from(parts[4]!, 'base64');
    body[0] = body[0]! ^ 1;
    expect(() => vault.open([...parts.slice(0, 4), body.toString('base64')].join('.'), 'user-1')).toThrow();
  });

  it('when the key rotates, then old data still opens with the retired key and is marked stale', () => {
    const sealedBefore = vault.seal({ name: 'Kim' }, 'user-1');
    const rotated = new PersonalDataVault({ current: { id: 'k2', key: key() }, retired: { k1: old.key }, index });
    expect(rotated.open(sealedBefore, 'user-1')).toEqual({ name: 'Kim' });
    expect(rotated.isStale(sealedBefore)).toBe(true);
    expect(rotated.isStale(rotated.seal({ name: 'Kim' }, 'user-1'))).toBe(false);
    const withoutOld = new PersonalDataVault({ current: { id: 'k2', key: key() }, retired: {}, index });
    expect(() => withoutOld.open(sealedBefore, 'user-1')).toThrow(/k1/);
  });

  it('when emails differ only in case or spaces, then their blind index is the same; another index key gives another index', () => {
    expect(vault.emailIndex(' A@Example.test ')).toBe(vault.emailIndex('a@example.test'));
    const other = new PersonalDataVault({ current: old, retired: {}, index: key() });
    expect(other.emailIndex('a@example.test')).not.toBe(vault.emailIndex('a@example.test'));
  });
});

describe('verification code rules', () => {
  const now = new Date('2026-11-24T10:00:00Z');
  const code = (over: Partial<VerificationCode> = {}): VerificationCode => ({
    id: 1, userId: 'u', purpose: 'verify-email', codeDigest: 'right', expiresAt: new Date(now.getTime() + 60_000), consumedAt: null, replacedAt: null,
    failedAttempts: 0, createdAt: now, ...over,
  });

  it('when the right live code is given, then it verifies and is consumed', () => {
    expect(judgeCode([code()], 'right', now)).toEqual({ outcome: 'verified', changes: [{ id: 1, set: { consumedAt: now } }] });
  });

  it('when a code is used, expired or replaced, then it is refused as such', () => {
    expect(judgeCode([code({ consumedAt: now })], 'right', now).outcome).toBe('used');
    expect(judgeCode([code({ expiresAt: now })], 'right', now).outcome).toBe('expired');
    expect(judgeCode([code({ replacedAt: now })], 'right', now).outcome).toBe('expired');
  });

  it(`when wrong codes are guessed ${MAX_FAILED_ATTEMPTS} times, then the live code is burned`, () => {
    expect(judgeCode([code()], 'wrong', now)).toEqual({ outcome: 'invalid', changes: [{ id: 1, set: { failedAttempts: 1 } }] });
    const last = judgeCode([code({ failedAttempts: MAX_FAILED_ATTEMPTS - 1 })], 'wrong', now);
    expect(last.changes[0]!.set).toEqual({ failedAttempts: MAX_FAILED_ATTEMPTS, replacedAt: now });
  });
});

describe('user-service configuration', () => {
  const valid = {
    PII_ENCRYPTION_KEY: key().toString('base64'), BLIND_INDEX_KEY: key().toString('base64'),
    DAPR_API_TOKEN: 'api-token-0123456789', APP_API_TOKEN: 'app-token-0123456789',
  };

  it('when the encryption key is missing or too short, then start-up stops with a message naming it, without echoing the value', () => {
    expect(() => readConfig({ BLIND_INDEX_KEY: valid.BLIND_INDEX_KEY })).toThrow(/PII_ENCRYPTION_KEY: required: 32 random bytes/);
    const short = randomBytes(16).toString('base64');
    let message = '';
    try {
      readConfig({ ...valid, PII_ENCRYPTION_KEY: short });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toMatch(/PII_ENCRYPTION_KEY: must decode from base64 to exactly 32 bytes/);
    expect(message).not.toContain(short);
  });

  it('when production is given a scrypt cost below OWASP\'s minimum, then start-up refuses it with the reason', () => {
    const keys = { ...valid, NODE_ENV: 'production', DB_USER: 'flash_users', DB_PASSWORD: 'a-real-password' };
    expect(() => readConfig({ ...keys, PASSWORD_SCRYPT_N: String(2 ** 14) })).toThrow(/PASSWORD_SCRYPT_N: below 131072/);
    expect(readConfig(keys).PASSWORD_SCRYPT_N).toBe(2 ** 17);
  });

  it('when retired keys are configured, then each needs an id and a 32-byte key', () => {
    expect(readConfig({ ...valid, PII_RETIRED_KEYS: `k0:${key().toString('base64')}` }).PII_RETIRED_KEYS.k0).toHaveLength(32);
    expect(() => readConfig({ ...valid, PII_RETIRED_KEYS: 'k0:abc' })).toThrow(/PII_RETIRED_KEYS/);
    expect(() => readConfig({ ...valid, ACCESS_TOKEN_TTL_SECONDS: '3600' })).toThrow(/ACCESS_TOKEN_TTL_SECONDS/);
  });
});

describe('password hashing', () => {
  const legacyHash = async (password: string) => {
    // How hashes were stored before the cost was written down with them: scrypt$N$salt$hash, N=2^15, r=8, p=1.
    const salt = randomBytes(16);
    const key = scryptSync(password, salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    return `scrypt$${2 ** 15}$${salt.toString('base64')}$${key.toString('base64')}`;
  };

  it('when a password is hashed, then the hash names OWASP\'s minimum cost (N=2^17, r=8, p=1) and only that password verifies', async () => {
    const hasher = new PasswordHasher({ concurrency: 2, queue: 10 });
    const hash = await hasher.hash('Sup3r$ecret');
    expect(hash).toMatch(/^scrypt\$N=131072,r=8,p=1\$/);
    expect(await hasher.verify('Sup3r$ecret', hash)).toBe(true);
    expect(await hasher.verify('Sup3r$ecreT', hash)).toBe(false);
    expect(hasher.isOutdated(hash)).toBe(false);
  });

  it('when a hash was stored at the old cost, then it still verifies and is marked for replacement', async () => {
    const hasher = new PasswordHasher({ concurrency: 1, queue: 10 });
    const old = await legacyHash('Old$ecret1');
    expect(await hasher.verify('Old$ecret1', old)).toBe(true);
    expect(await hasher.verify('wrong$1', old)).toBe(false);
    expect(hasher.isOutdated(old)).toBe(true);
  });

  it('when more hashes are asked for than may run and wait, then the excess is refused at once with 503 and Retry-After', async () => {
    const cheap = new PasswordHasher({ concurrency: 1, queue: 2 }, { N: 2 ** 10, r: 8, p: 1 });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => cheap.hash('x$1xxxxx')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as AppError);
    expect(refused.map((e) => [e.status, e.headers?.['retry-after']])).toEqual([[503, '1'], [503, '1'], [503, '1']]);
    expect(await Promise.all([cheap.hash('a$1aaaaa'), cheap.hash('b$1bbbbb')])).toHaveLength(2);
  });
});
