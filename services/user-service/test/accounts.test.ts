import { decodeProtectedHeader } from 'jose';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { REVOKED_SESSIONS_KEY, type RevokedSessions } from '@flash/auth';
import { apiCall, deleteRedisKeys, verificationCodeIn, waitUntil, type ApiAnswer, type ApiRequest } from '@flash/stack';
import { startTestStack, type TestStack } from '../../../test/support/stack';
import { readConfig } from '../src/config';
import { personalDataVault, signingKeyring } from '../src/service';
import { VerificationCodeEntity } from '../src/data/account.entities';
import { UserEntity } from '../src/data/user.entity';
import { purgeExpiredLimits } from '../src/data/rate-limits';
import { UserRepository } from '../src/data/user-repository';
import { PasswordHasher } from '../src/domain/passwords';

const CODE_TTL_SECONDS = 3;
// Cheaper than production's 2^17 so this suite's hundreds of hashes fit two shared cores; the cost itself is tested in domain.test.ts.
const SCRYPT_N = 2 ** 13;
const GUESSES_PER_DAY = 8;

interface Problem {
  status: number;
  code: string;
  errors?: { field: string; message: string }[];
}

describe('accounts: signup, verification, login, sessions', () => {
  let stack: TestStack;
  let api: (path: string, init?: ApiRequest) => Promise<ApiAnswer>;
  let seq = 0;
  // Each test logs in from its own client address, so the per-client login limit only meets the test about it.
  let client = '';
  beforeEach(() => {
    client = `198.18.${Math.floor(seq / 200)}.${(seq % 200) + 1}`;
    seq++;
  });
  const newEmail = () => `shopper-${++seq}-${stack.run.id}@example.test`;
  const signupBody = (email: string, extra: Record<string, unknown> = {}) => ({
    name: 'Kim Minji', email, password: 'Sup3r$ecret', phone: '010-1234-5678', address: '12 Gangnam-daero, Seoul', ...extra,
  });

  beforeAll(async () => {
    const userEnv = {
      VERIFICATION_CODE_TTL_SECONDS: String(CODE_TTL_SECONDS),
      SIGNING_KEY_RELOAD_SECONDS: '1',
      REVOCATION_REPUBLISH_SECONDS: '1',
      LOGIN_FREE_FAILURES: '5',
      LOGIN_FAILURES_PER_CLIENT: '25',
      PASSWORD_SCRYPT_N: String(SCRYPT_N),
      CODE_GUESSES_PER_DAY: String(GUESSES_PER_DAY),
      // The edge and this test runner are 127.0.0.1; a client on 127.0.0.2 is a peer nobody declared a proxy.
      TRUSTED_PROXIES: '127.0.0.1',
    };
    stack = await startTestStack(['user-service', 'product-service'], { 'user-service': userEnv });
    api = (path, init = {}) => apiCall(stack.edgeUrl, path, { ...init, headers: { 'x-forwarded-for': client, ...init.headers } });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const codeFrom = (text: string) => verificationCodeIn(text) ?? '';

  /** Signs up, reads the emailed code, verifies, logs in. */
  async function verifiedShopper(email = newEmail(), password = 'Sup3r$ecret') {
    expect((await api('/api/users', { body: signupBody(email, { password }) })).status).toBe(202);
    const [mail] = await stack.mail.waitForMail(email);
    expect((await api('/api/users/verification', { body: { email, code: codeFrom(mail!.text) } })).status).toBe(200);
    const login = await api('/api/auth/login', { body: { email, password } });
    expect(login.status).toBe(200);
    return { email, password, ...(login.body as { accessToken: string; refreshToken: string }) };
  }

  const me = (token: string) => api('/api/users/me', { token });

  it('when a shopper signs up, verifies the emailed code and logs in, then their profile is theirs and the row holds no plaintext', async () => {
    const email = newEmail();
    const signup = await api('/api/users', { body: signupBody(email, { description: 'likes sneakers' }) });
    expect(signup.status).toBe(202);

    const mails = await stack.mail.waitForMail(email);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toMatch(/verification code/);
    const code = codeFrom(mails[0]!.text);
    expect(code).toMatch(/^\d{6}$/);

    const verify = await api('/api/users/verification', { body: { email, code } });
    expect(verify.status).toBe(200);

    const login = await api('/api/auth/login', { body: { email, password: 'Sup3r$ecret' } });
    expect(login.status).toBe(200);
    expect(login.body).toMatchObject({ tokenType: 'Bearer', expiresIn: expect.any(Number) });
    expect(login.body.expiresIn).toBeLessThanOrEqual(900);
    expect(decodeProtectedHeader(login.body.accessToken)).toMatchObject({ alg: 'EdDSA', kid: expect.any(String) });

    const profile = await me(login.body.accessToken);
    expect(profile.status).toBe(200);
    expect(profile.body).toMatchObject({
      name: 'Kim Minji', email, phone: '010-1234-5678', address: '12 Gangnam-daero, Seoul', description: 'likes sneakers',
      role: 'customer', verified: true,
    });

    const row = await stack.service('user-service').service.dataSource.getRepository(UserEntity).findOneByOrFail({ id: profile.body.id });
    const stored = JSON.stringify(row);
    for (const plain of [email, 'Kim Minji', '010-1234-5678', 'Gangnam', 'sneakers', 'Sup3r$ecret']) expect(stored).not.toContain(plain);
  });

  it('when a weak password, a bad phone and a bad email are sent, then each field gets its own message and nothing is created', async () => {
    const res = await api('/api/users', { body: { ...signupBody('not-an-email'), password: 'short', phone: '12345' } });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const body = res.body as Problem;
    expect(body.code).toBe('VALIDATION_FAILED');
    const fields = Object.fromEntries(body.errors!.map((e) => [e.field, e.message]));
    expect(Object.keys(fields).sort()).toEqual(['email', 'password', 'phone']);
    expect(fields.password).toMatch(/8 characters/);
    expect(fields.password).toMatch(/digit/);
    expect(fields.phone).toMatch(/010-1234-5678/);
    const users = stack.service('user-service').service.dataSource.getRepository(UserEntity);
    const before = await users.count();
    expect((await api('/api/users', { body: { ...signupBody(newEmail()), phone: '12345' } })).status).toBe(400);
    expect(await users.count()).toBe(before);
  });

  it('when a password has spaces or lacks a special character, then the password field says so', async () => {
    const spaced = await api('/api/users', { body: signupBody(newEmail(), { password: 'with space1!' }) });
    expect(spaced.status).toBe(400);
    expect(spaced.body.errors).toEqual([{ field: 'password', message: expect.stringMatching(/spaces/) }]);
    const plain = await api('/api/users', { body: signupBody(newEmail(), { password: 'abcdefgh1' }) });
    expect(plain.body.errors).toEqual([{ field: 'password', message: expect.stringMatching(/special character/) }]);
  });

  it('when an email already registered signs up again, then the answer is the same 202, no second account or code, and the owner is told', async () => {
    const email = newEmail();
    const first = await api('/api/users', { body: signupBody(email) });
    const again = await api('/api/users', { body: signupBody(email.toUpperCase(), { name: 'Someone Else', password: 'An0ther$pass' }) });
    expect({ status: again.status, body: again.body }).toEqual({ status: first.status, body: first.body });
    expect(first.status).toBe(202);
    const mails = await stack.mail.waitForMail(email, 2);
    expect(mails.map((m) => m.subject).sort()).toEqual([expect.stringMatching(/Someone tried to sign up/), expect.stringMatching(/verification code/)]);
    expect(mails.filter((m) => codeFrom(m.text))).toHaveLength(1);
    const code = codeFrom(mails.find((m) => /verification code/.test(m.subject))!.text);
    expect((await api('/api/users/verification', { body: { email, code } })).status).toBe(200);
    // The first signup's password stands; the second one's does not log in.
    expect((await api('/api/auth/login', { body: { email, password: 'An0ther$pass' } })).status).toBe(401);
    expect((await api('/api/auth/login', { body: { email, password: 'Sup3r$ecret' } })).status).toBe(200);
  });

  it('when 20 signups with one email arrive at once from 20 addresses, then all answer 202 and exactly one account, one code and one notice result', async () => {
    const email = newEmail();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => api('/api/users', { body: signupBody(email), headers: { 'x-forwarded-for': `192.0.2.${i + 1}` } })));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(202));
    await stack.mail.waitForMail(email, 2);
    await sleep(300);
    expect((await stack.mail.mailTo(email)).map((m) => m.subject).sort()).toEqual([expect.stringMatching(/Someone tried/), expect.stringMatching(/verification code/)]);
    const login = await api('/api/auth/login', { body: { email, password: 'Sup3r$ecret' } });
    expect(login.body.code).toBe('EMAIL_NOT_VERIFIED');
  });

  it('when an unverified account logs in, then it gets 403 EMAIL_NOT_VERIFIED', async () => {
    const email = newEmail();
    await api('/api/users', { body: signupBody(email) });
    const login = await api('/api/auth/login', { body: { email, password: 'Sup3r$ecret' } });
    expect(login.status).toBe(403);
    expect(login.body.code).toBe('EMAIL_NOT_VERIFIED');
  });

  it('when codes are wrong, used or expired, then they are refused and a resent code works', async () => {
    const email = newEmail();
    await api('/api/users', { body: signupBody(email) });
    const first = codeFrom((await stack.mail.waitForMail(email))[0]!.text);
    const wrong = first === '000000' ? '111111' : '000000';

    const bad = await api('/api/users/verification', { body: { email, code: wrong } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('INVALID_CODE');

    await sleep(CODE_TTL_SECONDS * 1000 + 200);
    const expired = await api('/api/users/verification', { body: { email, code: first } });
    expect(expired.status).toBe(410);
    expect(expired.body.code).toBe('CODE_EXPIRED');
    expect((await api('/api/auth/login', { body: { email, password: 'Sup3r$ecret' } })).body.code).toBe('EMAIL_NOT_VERIFIED');

    expect((await api('/api/users/verification/resend', { body: { email } })).status).toBe(202);
    const second = codeFrom((await stack.mail.waitForMail(email, 2))[1]!.text);
    expect((await api('/api/users/verification', { body: { email, code: second } })).status).toBe(200);

    const used = await api('/api/users/verification', { body: { email, code: second } });
    expect(used.status).toBe(410);
    expect(used.body.code).toBe('CODE_USED');
    expect((await api('/api/auth/login', { body: { email, password: 'Sup3r$ecret' } })).status).toBe(200);
  });

  it('when a newer code is sent, then the older one is deleted and no longer verifies', async () => {
    const email = newEmail();
    await api('/api/users', { body: signupBody(email) });
    const first = codeFrom((await stack.mail.waitForMail(email))[0]!.text);
    await api('/api/users/verification/resend', { body: { email } });
    const second = codeFrom((await stack.mail.waitForMail(email, 2))[1]!.text);
    const old = await api('/api/users/verification', { body: { email, code: first } });
    expect(old.status).toBe(400);
    expect(old.body.code).toBe('INVALID_CODE');
    const user = stack.service('user-service');
    const { id: userId } = (await new UserRepository(user.service.dataSource).byEmailIndex(personalDataVault(readConfig(user.env)).emailIndex(email)))!;
    expect(await user.service.dataSource.getRepository(VerificationCodeEntity).countBy({ userId })).toBe(1);
    expect((await api('/api/users/verification', { body: { email, code: second } })).status).toBe(200);
  });

  it('when resends are asked past the limit of an email, or of an address, then the answer is 429 with Retry-After', async () => {
    const email = newEmail();
    await api('/api/users', { body: signupBody(email) });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await api('/api/users/verification/resend', { body: { email } })).status);
    expect(statuses).toEqual([202, 202, 202, 429]);
    const refused = await api('/api/users/verification/resend', { body: { email } });
    expect(refused.body.code).toBe('TOO_MANY_ATTEMPTS');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(60);
    // An unknown email meets the same limit: the 429 does not tell whether an account exists.
    const unknown = newEmail();
    const unknownStatuses = [];
    for (let i = 0; i < 4; i++) unknownStatuses.push((await api('/api/users/verification/resend', { body: { email: unknown } })).status);
    expect(unknownStatuses).toEqual([202, 202, 202, 429]);
    // The inbox got the signup code and three resends, no more.
    await stack.mail.waitForMail(email, 4);
    await sleep(300);
    expect(await stack.mail.mailTo(email)).toHaveLength(4);

    // One address asking for many emails: 20 an hour, resends and resets together (9 asked above).
    const fromOneAddress = [];
    for (let i = 0; i < 12; i++) fromOneAddress.push((await api('/api/users/password-reset', { body: { email: newEmail() } })).status);
    expect(fromOneAddress).toEqual([...Array(11).fill(202), 429]);
    const elsewhere = await api('/api/users/password-reset', { body: { email: newEmail() }, headers: { 'x-forwarded-for': '198.51.100.77' } });
    expect(elsewhere.status).toBe(202);
  });

  it(`when an attacker guesses past ${GUESSES_PER_DAY} codes a day for one email, then every further guess is refused, even the right one of a new code`, async () => {
    const email = newEmail();
    await api('/api/users', { body: signupBody(email) });
    const first = codeFrom((await stack.mail.waitForMail(email))[0]!.text);
    const wrong = (right: string) => (right === '000000' ? '111111' : '000000');
    for (let i = 0; i < 5; i++) expect((await api('/api/users/verification', { body: { email, code: wrong(first) } })).body.code).toBe('INVALID_CODE');
    // Five wrong guesses burned that code; a new one brings no new guesses beyond the daily cap.
    expect((await api('/api/users/verification', { body: { email, code: first } })).status).toBe(410);
    await api('/api/users/verification/resend', { body: { email } });
    const second = codeFrom((await stack.mail.waitForMail(email, 2))[1]!.text);
    for (let i = 0; i < 2; i++) expect((await api('/api/users/verification', { body: { email, code: wrong(second) } })).status).toBe(400);
    const capped = await api('/api/users/verification', { body: { email, code: second } });
    expect(capped.status).toBe(429);
    expect(capped.body.code).toBe('TOO_MANY_ATTEMPTS');
    expect(Number(capped.headers.get('retry-after'))).toBeGreaterThan(3600);
    expect((await api('/api/auth/login', { body: { email, password: 'Sup3r$ecret' } })).body.code).toBe('EMAIL_NOT_VERIFIED');
  });

  it('when a shopper forgets their password, then the emailed reset code sets a new one, logs out every device, and works once', async () => {
    const shopper = await verifiedShopper();
    const other = await api('/api/auth/login', { body: { email: shopper.email, password: shopper.password } });
    const unknown = await api('/api/users/password-reset', { body: { email: newEmail() } });
    const asked = await api('/api/users/password-reset', { body: { email: shopper.email } });
    expect({ status: asked.status, body: asked.body }).toEqual({ status: unknown.status, body: unknown.body });
    expect(asked.status).toBe(202);
    const [, mail] = await stack.mail.waitForMail(shopper.email, 2);
    expect(mail!.subject).toMatch(/password reset code/);
    const code = codeFrom(mail!.text);

    const wrongCode = await api('/api/users/password-reset/confirm', { body: { email: shopper.email, code: code === '000000' ? '111111' : '000000', newPassword: 'N3w$ecret!' } });
    expect(wrongCode.body.code).toBe('INVALID_CODE');
    const weak = await api('/api/users/password-reset/confirm', { body: { email: shopper.email, code, newPassword: 'weak' } });
    expect(weak.body.errors).toEqual([{ field: 'newPassword', message: expect.any(String) }]);
    // A verification code is no reset code.
    expect((await api('/api/users/verification', { body: { email: shopper.email, code } })).status).toBe(400);

    const reset = await api('/api/users/password-reset/confirm', { body: { email: shopper.email, code, newPassword: 'N3w$ecret!' } });
    expect(reset.status).toBe(200);
    expect(reset.body).toEqual({ status: 'PASSWORD_RESET' });
    await sleep(1000);
    expect((await me(shopper.accessToken)).body.code).toBe('SESSION_REVOKED');
    expect((await me(other.body.accessToken)).body.code).toBe('SESSION_REVOKED');
    expect((await api('/api/auth/refresh', { body: { refreshToken: shopper.refreshToken } })).status).toBe(401);
    expect((await api('/api/auth/login', { body: { email: shopper.email, password: shopper.password } })).status).toBe(401);
    expect((await api('/api/auth/login', { body: { email: shopper.email, password: 'N3w$ecret!' } })).status).toBe(200);
    const again = await api('/api/users/password-reset/confirm', { body: { email: shopper.email, code, newPassword: 'An0ther$pass' } });
    expect(again.status).toBe(410);
    expect(again.body.code).toBe('CODE_USED');
  });

  it('when a resend is asked for an unknown email, then the answer is the same as for a known one and no email is sent', async () => {
    const known = newEmail();
    await api('/api/users', { body: signupBody(known) });
    const unknown = newEmail();
    const a = await api('/api/users/verification/resend', { body: { email: known } });
    const b = await api('/api/users/verification/resend', { body: { email: unknown } });
    expect({ status: b.status, body: b.body }).toEqual({ status: a.status, body: a.body });
    expect(a.status).toBe(202);
    await stack.mail.waitForMail(known, 2);
    expect(await stack.mail.mailTo(unknown)).toHaveLength(0);
  });

  it('when the password or the email is wrong, then login answers 401 INVALID_CREDENTIALS', async () => {
    const shopper = await verifiedShopper();
    const wrongPassword = await api('/api/auth/login', { body: { email: shopper.email, password: 'Wr0ng$pass' } });
    expect(wrongPassword.status).toBe(401);
    expect(wrongPassword.body.code).toBe('INVALID_CREDENTIALS');
    const unknown = await api('/api/auth/login', { body: { email: newEmail(), password: 'Wr0ng$pass' } });
    expect(unknown.status).toBe(401);
    expect(unknown.body.code).toBe('INVALID_CREDENTIALS');
    const metrics = await (await fetch(`${stack.service('user-service').url}/metrics`)).text();
    expect(metrics).toMatch(/logins_total\{outcome="INVALID_CREDENTIALS",service="user-service"\} [1-9]/);
  });

  it('when 200 different buyers log in from one address within a minute, then every one of them gets in', async () => {
    const user = stack.service('user-service');
    const vault = personalDataVault(readConfig(user.env));
    const users = new UserRepository(user.service.dataSource);
    const passwordHash = await new PasswordHasher({ concurrency: 1, queue: 1 }, { N: SCRYPT_N, r: 8, p: 1 }).hash('Sup3r$ecret');
    const emails = Array.from({ length: 200 }, () => newEmail());
    await Promise.all(emails.map(async (email) => {
      const id = randomUUID();
      await users.create({ id, emailIndex: vault.emailIndex(email), personalData: vault.seal({ name: 'Buyer', email }, id), passwordHash, role: 'customer', verifiedAt: new Date() });
    }));
    // A typo or two in the crowd is normal and does not lock the address either.
    for (const email of emails.slice(0, 3)) expect((await api('/api/auth/login', { body: { email, password: 'Typ0$wrong' } })).status).toBe(401);
    const started = Date.now();
    const statuses: number[] = [];
    for (let i = 0; i < emails.length; i += 10) {
      const batch = await Promise.all(emails.slice(i, i + 10).map((email) => api('/api/auth/login', { body: { email, password: 'Sup3r$ecret' } })));
      statuses.push(...batch.map((r) => r.status));
    }
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(statuses).toEqual(Array(200).fill(200));
  });

  it('when 50 wrong passwords come from one address at one account, then that address is slowed with 429 and Retry-After, and the owner still logs in from another', async () => {
    const shopper = await verifiedShopper();
    const attacker = { 'x-forwarded-for': '203.0.113.66' };
    const statuses: number[] = [];
    const retryAfter: number[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await api('/api/auth/login', { body: { email: shopper.email, password: `Wr0ng$pass${i}` }, headers: attacker });
      statuses.push(res.status);
      if (res.status === 429) retryAfter.push(Number(res.headers.get('retry-after')));
    }
    expect(statuses.slice(0, 5)).toEqual(Array(5).fill(401));
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(7);
    expect(statuses.slice(-10)).toEqual(Array(10).fill(429));
    expect(retryAfter.every((s) => s >= 1)).toBe(true);
    // The right password from the attacker's address waits as well: it is the address × account that is slowed…
    expect((await api('/api/auth/login', { body: { email: shopper.email, password: shopper.password }, headers: attacker })).status).toBe(429);
    // …not the owner elsewhere, nor other buyers at the attacker's address.
    expect((await api('/api/auth/login', { body: { email: shopper.email, password: shopper.password } })).status).toBe(200);
    const neighbour = await verifiedShopper();
    expect((await api('/api/auth/login', { body: { email: neighbour.email, password: neighbour.password }, headers: attacker })).status).toBe(200);

    // After the wait, the attacker's address gets one more try (and a longer wait), not a fresh set.
    await sleep(Math.max(...retryAfter.slice(-1)) * 1000 + 100);
    expect((await api('/api/auth/login', { body: { email: shopper.email, password: 'Wr0ng$again1' }, headers: attacker })).status).toBe(401);
    const slower = await api('/api/auth/login', { body: { email: shopper.email, password: 'Wr0ng$again2' }, headers: attacker });
    expect(slower.status).toBe(429);
    expect(Number(slower.headers.get('retry-after'))).toBeGreaterThan(retryAfter.at(-1)! - 1);
  });

  it('when 30 wrong passwords are sent at once from one address at one account, then only the free tries get checked', async () => {
    const shopper = await verifiedShopper();
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => api('/api/auth/login', { body: { email: shopper.email, password: `Wr0ng$burst${i}` } })));
    const statuses = burst.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(15);
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
  });

  it('when one address fails too many logins across accounts, then it gets 429 with Retry-After while other addresses still log in', async () => {
    const shopper = await verifiedShopper();
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    const statuses: number[] = [];
    for (let i = 0; i < 26; i++) {
      statuses.push((await api('/api/auth/login', { body: { email: newEmail(), password: 'Wr0ng$pass' }, headers: from('203.0.113.7') })).status);
    }
    expect(statuses.slice(0, 25).every((s) => s === 401)).toBe(true);
    expect(statuses[25]).toBe(429);
    const blocked = await api('/api/auth/login', { body: { email: shopper.email, password: shopper.password }, headers: from('203.0.113.7') });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    const other = await api('/api/auth/login', { body: { email: shopper.email, password: shopper.password }, headers: from('198.51.100.9') });
    expect(other.status).toBe(200);
  });

  it('when a peer that is not a declared proxy sends a different X-Forwarded-For each time, then the throttle still sees that one peer', async () => {
    const shopper = await verifiedShopper();
    const edge = new URL(stack.edgeUrl);
    // Straight from 127.0.0.2 through the edge: the edge appends 127.0.0.2, which the service does not trust as a proxy.
    const fromUntrustedPeer = (password: string, spoofed: string) =>
      new Promise<number>((resolve, reject) => {
        const body = JSON.stringify({ email: shopper.email, password });
        const req = request({
          host: edge.hostname, port: edge.port, localAddress: '127.0.0.2', method: 'POST', path: '/api/auth/login',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-forwarded-for': spoofed },
        }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(body);
      });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push(await fromUntrustedPeer(`Wr0ng$pass${i}`, `198.18.250.${i + 1}`));
    expect(statuses.slice(0, 5)).toEqual(Array(5).fill(401));
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    // The addresses it named are untouched: the owner logs in from a spoofed one through a declared proxy.
    expect((await api('/api/auth/login', { body: { email: shopper.email, password: shopper.password }, headers: { 'x-forwarded-for': '198.18.250.6' } })).status).toBe(200);
  });

  it('when a refresh token is used, then a new pair comes back; when an old one is reused, then the whole session is logged out', async () => {
    const shopper = await verifiedShopper();
    const first = await api('/api/auth/refresh', { body: { refreshToken: shopper.refreshToken } });
    expect(first.status).toBe(200);
    expect(first.body.refreshToken).not.toBe(shopper.refreshToken);
    expect((await me(first.body.accessToken)).status).toBe(200);
    const second = await api('/api/auth/refresh', { body: { refreshToken: first.body.refreshToken } });
    expect(second.status).toBe(200);

    const reuse = await api('/api/auth/refresh', { body: { refreshToken: shopper.refreshToken } });
    expect(reuse.status).toBe(401);
    expect(reuse.body.code).toBe('REFRESH_TOKEN_REUSED');

    const latest = await api('/api/auth/refresh', { body: { refreshToken: second.body.refreshToken } });
    expect(latest.status).toBe(401);
    await sleep(1000);
    expect((await me(second.body.accessToken)).body.code).toBe('SESSION_REVOKED');
  });

  it('when a profile is edited, then its owner sees the change and the email cannot be changed there', async () => {
    const shopper = await verifiedShopper();
    const patched = await api('/api/users/me', { method: 'PATCH', token: shopper.accessToken, body: { address: '7 Haeundae-ro, Busan' } });
    expect(patched.status).toBe(200);
    expect((await me(shopper.accessToken)).body.address).toBe('7 Haeundae-ro, Busan');
    const email = await api('/api/users/me', { method: 'PATCH', token: shopper.accessToken, body: { email: newEmail() } });
    expect(email.status).toBe(400);
    const bad = await api('/api/users/me', { method: 'PATCH', token: shopper.accessToken, body: { phone: 'abc' } });
    expect(bad.body.errors).toEqual([{ field: 'phone', message: expect.any(String) }]);
    expect((await api('/api/users/me')).status).toBe(401);
  });

  it('when a shopper logs out, then that session is refused within a second and their other session still works', async () => {
    const shopper = await verifiedShopper();
    const other = await api('/api/auth/login', { body: { email: shopper.email, password: shopper.password } });
    expect((await api('/api/auth/logout', { method: 'POST', token: shopper.accessToken })).status).toBe(204);
    await sleep(1000);
    const refused = await me(shopper.accessToken);
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('SESSION_REVOKED');
    expect((await api('/api/auth/refresh', { body: { refreshToken: shopper.refreshToken } })).status).toBe(401);
    expect((await me(other.body.accessToken)).status).toBe(200);
  });

  it('when the password is changed, then every session is logged out and only the new password logs in', async () => {
    const shopper = await verifiedShopper();
    const wrong = await api('/api/users/me/password', {
      method: 'PUT', token: shopper.accessToken, body: { currentPassword: 'N0t$mine', newPassword: 'N3w$ecret!' },
    });
    expect(wrong.status).toBe(403);
    const weak = await api('/api/users/me/password', {
      method: 'PUT', token: shopper.accessToken, body: { currentPassword: shopper.password, newPassword: 'weak' },
    });
    expect(weak.body.errors).toEqual([{ field: 'newPassword', message: expect.any(String) }]);

    const changed = await api('/api/users/me/password', {
      method: 'PUT', token: shopper.accessToken, body: { currentPassword: shopper.password, newPassword: 'N3w$ecret!' },
    });
    expect(changed.status).toBe(204);
    await sleep(1000);
    expect((await me(shopper.accessToken)).body.code).toBe('SESSION_REVOKED');
    expect((await api('/api/auth/login', { body: { email: shopper.email, password: shopper.password } })).status).toBe(401);
    expect((await api('/api/auth/login', { body: { email: shopper.email, password: 'N3w$ecret!' } })).status).toBe(200);
  });

  it('when the signing key is rotated, then tokens signed before and after are both accepted', async () => {
    const before = await verifiedShopper();
    const user = stack.service('user-service');
    const config = readConfig(user.env);
    const newKid = await signingKeyring(config, user.service.dataSource, personalDataVault(config)).rotate();
    await sleep(1100);
    const after = await api('/api/auth/login', { body: { email: before.email, password: before.password } });
    expect(decodeProtectedHeader(after.body.accessToken).kid).toBe(newKid);
    expect(decodeProtectedHeader(before.accessToken).kid).not.toBe(newKid);

    const jwks = await api('/api/auth/jwks');
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toEqual(
      expect.arrayContaining([newKid, decodeProtectedHeader(before.accessToken).kid]),
    );
    expect((await me(before.accessToken)).status).toBe(200);
    expect((await me(after.body.accessToken)).status).toBe(200);
  });

  it('when a shopper logs out everywhere, then another service refuses their token within a second', async () => {
    const shopper = await verifiedShopper();
    const product = { name: `Limited sneaker ${stack.run.id}`, price: 129_000 };
    // Authenticated at product-service (a customer is known there, but not allowed to manage the catalog)…
    const asCustomer = await api('/api/admin/products', { token: shopper.accessToken, body: product });
    expect(asCustomer.status).toBe(403);
    expect(asCustomer.body.code).toBe('FORBIDDEN');

    expect((await api('/api/auth/logout-all', { method: 'POST', token: shopper.accessToken })).status).toBe(204);
    await sleep(1000);
    // …and refused there once logged out.
    const afterLogout = await api('/api/admin/products', { token: shopper.accessToken, body: product });
    expect(afterLogout.status).toBe(401);
    expect(afterLogout.body.code).toBe('SESSION_REVOKED');
    expect((await me(shopper.accessToken)).body.code).toBe('SESSION_REVOKED');
  });

  it('when Redis loses the revocation lists, then they are written again and the logged-out token stays refused', async () => {
    const shopper = await verifiedShopper();
    expect((await api('/api/auth/logout', { method: 'POST', token: shopper.accessToken })).status).toBe(204);
    // Each service (user- and product-service here) keeps its own list; Redis keeps nothing on disk here: a restart wipes them.
    const sessionId = JSON.parse(Buffer.from(shopper.accessToken.split('.')[1]!, 'base64url').toString()).sid as string;
    const listed = async (name: 'user-service' | 'product-service') =>
      (await stack.service(name).service.dapr.state<RevokedSessions>('statestore').get(REVOKED_SESSIONS_KEY))?.value.sessions[sessionId] !== undefined;
    await waitUntil('both lists', async () => (await listed('user-service')) && (await listed('product-service')), 5000, 50);
    expect(await deleteRedisKeys(`${stack.run.id}-*||${REVOKED_SESSIONS_KEY}`)).toBe(2);
    await sleep(2500);
    const refused = await api('/api/admin/products', { token: shopper.accessToken, body: { name: 'x', price: 1 } });
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('SESSION_REVOKED');
  });

  it('when the admin from configuration logs in, then admin endpoints of another service accept them until they log out', async () => {
    const login = await api('/api/auth/login', { body: stack.admin });
    expect(login.status).toBe(200);
    const created = await api('/api/admin/products', { token: login.body.accessToken, body: { name: `Drop ${stack.run.id}`, price: 5_000 } });
    expect(created.status).toBe(201);
    expect((await me(login.body.accessToken)).body).toMatchObject({ role: 'admin', email: stack.admin.email });

    expect((await api('/api/auth/logout', { method: 'POST', token: login.body.accessToken })).status).toBe(204);
    await sleep(1000);
    const refused = await api('/api/admin/products', { token: login.body.accessToken, body: { name: `Drop 2 ${stack.run.id}`, price: 5_000 } });
    expect(refused.status).toBe(401);
  });

  it('when a token is forged, expired-looking or missing, then it is refused with 401', async () => {
    const shopper = await verifiedShopper();
    const [h, p] = shopper.accessToken.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, role: 'admin' })).toString('base64url')}.${shopper.accessToken.split('.')[2]}`;
    expect((await me(forged)).body.code).toBe('INVALID_TOKEN');
    expect((await me('not-a-jwt')).status).toBe(401);
    const missing = await api('/api/users/me');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toContain('Bearer');
  });

  it('when rate-limit counters have expired, then the purge deletes them and keeps live ones; it runs at most once a minute', async () => {
    const db = stack.service('user-service').service.dataSource;
    const rows = async (liveAt = 0) => Number(((await db.query('SELECT COUNT(*) AS n FROM rate_limits WHERE expire >= ?', [liveAt])) as { n: string }[])[0]!.n);
    const now = Date.now();
    const live = await rows(now);
    expect(live).toBeGreaterThan(0);
    expect(await purgeExpiredLimits(db, now)).toBeGreaterThanOrEqual(60_000);
    expect(await rows()).toBe(live);
    // Two days on (the longest window is a day), every counter of this suite has expired.
    let next = await purgeExpiredLimits(db, Date.now() + 2 * 86_400_000);
    while (next === 0) next = await purgeExpiredLimits(db, Date.now() + 2 * 86_400_000);
    expect(await rows()).toBe(0);
    expect(next).toBeUndefined();
  });
});
