import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { apiCall, verificationCodeIn, type ApiRequest } from '@flash/stack';
import { SERVICES, startTestStack, type TestStack } from './support/stack';

/** Every line a service logs, at the most talkative level, kept for the greps below. */
class LogCapture extends Writable {
  readonly chunks: string[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk.toString('utf8'));
    done();
  }

  get text(): string {
    return this.chunks.join('');
  }
}

describe('logs keep no secrets', () => {
  let stack: TestStack;
  const logs = new LogCapture();
  const api = (path: string, init?: ApiRequest) => apiCall(stack.edgeUrl, path, init);

  beforeAll(async () => {
    const trace = { LOG_LEVEL: 'trace' };
    stack = await startTestStack(SERVICES, Object.fromEntries(SERVICES.map((s) => [s, trace])), { logs });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('when a shopper signs up, verifies, logs in, refreshes, shops, fails and resets their password, then no token, password or code appears in any service or sidecar log', async () => {
    const secrets: Record<string, string> = { daprApiToken: stack.run.apiToken, appApiToken: stack.run.appToken, adminPassword: stack.admin.password };
    const email = `secretive-${stack.run.id}@example.test`;
    const password = 'L0g$-never-shows';
    secrets.password = password;
    expect((await api('/api/users', { body: { name: 'Quiet Buyer', email, password, phone: '010-1234-5678', address: 'Seoul' } })).status).toBe(202);
    secrets.verificationCode = verificationCodeIn((await stack.mail.waitForMail(email))[0]!.text)!;
    expect((await api('/api/users/verification', { body: { email, code: secrets.verificationCode } })).status).toBe(200);
    expect((await api('/api/auth/login', { body: { email, password: 'Wr0ng$-also-hidden' } })).status).toBe(401);
    secrets.wrongPassword = 'Wr0ng$-also-hidden';
    const login = await api('/api/auth/login', { body: { email, password } });
    secrets.refreshToken = login.body.refreshToken;
    const refreshed = await api('/api/auth/refresh', { body: { refreshToken: login.body.refreshToken } });
    const token = refreshed.body.accessToken as string;
    secrets.accessToken = token;
    secrets.accessTokenSignature = token.split('.')[2]!;
    secrets.secondRefreshToken = refreshed.body.refreshToken;

    const admin = (await api('/api/auth/login', { body: stack.admin })).body.accessToken as string;
    secrets.adminToken = admin;
    const product = (await api('/api/admin/products', { token: admin, body: { name: `Quiet ${stack.run.id}`, price: 1000, stock: 5 } })).body;
    expect((await api('/api/wishlist', { token, body: { productId: product.id, quantity: 1 } })).status).toBe(201);
    expect((await api('/api/users/me/page', { token })).status).toBe(200);
    expect((await api('/api/orders', { token, body: { items: [{ productId: product.id, quantity: 1 }] } })).status).toBeLessThan(500);
    const sale = (await api('/api/admin/flash-sales', {
      token: admin, body: { productId: product.id, quantity: 2, startsAt: new Date(Date.now() - 1000).toISOString(), endsAt: new Date(Date.now() + 60_000).toISOString() },
    })).body;
    expect((await api(`/api/flash-sales/${sale.id}/purchases`, { method: 'POST', token, headers: { 'idempotency-key': randomUUID() } })).status).toBe(201);
    // Refused credentials are logged as refusals, not as what was sent.
    expect((await api('/api/users/me', { token: `${token}x` })).status).toBe(401);

    expect((await api('/api/users/password-reset', { body: { email } })).status).toBe(202);
    const resetMail = (await stack.mail.waitForMail(email, 2)).find((m) => /password reset/.test(m.subject))!;
    secrets.resetCode = verificationCodeIn(resetMail.text)!;
    secrets.newPassword = 'N3w$-never-shows';
    expect((await api('/api/users/password-reset/confirm', { body: { email, code: secrets.resetCode, newPassword: secrets.newPassword } })).status).toBe(200);
    expect((await api('/api/auth/login', { body: { email, password: secrets.newPassword } })).status).toBe(200);

    const serviceLogs = logs.text;
    // Not vacuous: the logs hold every request of this test.
    expect(serviceLogs).toContain('/api/auth/login');
    expect(serviceLogs).toContain('/api/users/password-reset/confirm');
    const everything = [serviceLogs, ...SERVICES.map((s) => stack.service(s).sidecar.output())].join('\n');
    const found = Object.entries(secrets).filter(([, value]) => new RegExp(`(?<![A-Za-z0-9_-])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_-])`).test(everything));
    expect(found.map(([name]) => name)).toEqual([]);
    expect(everything).not.toMatch(/bearer\s+ey/i);
  });
});
