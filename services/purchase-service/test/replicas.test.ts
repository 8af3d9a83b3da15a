import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiCall, type ApiRequest } from '@flash/stack';
import { startTestStack, type TestStack } from '../../../test/support/stack';
import { tokenMinter } from '../../../test/support/tokens';

/** Two purchase-service replicas (each with its own daprd, one app id, one database) behind the edge. */
describe('flash sales on two purchase-service replicas', () => {
  let stack: TestStack;
  let mint: ReturnType<typeof tokenMinter>;
  let adminToken: string;
  let productId: string;
  let replicaUrls: string[];

  const api = (path: string, init?: ApiRequest) => apiCall(stack.edgeUrl, path, init);
  const buyOn = (url: string, saleId: string, token: string, key: string = randomUUID()) =>
    apiCall(url, `/api/flash-sales/${saleId}/purchases`, { method: 'POST', token, headers: { 'idempotency-key': key } });

  async function sale(quantity: number, perUserLimit: number) {
    const now = Date.now();
    const res = await api('/api/admin/flash-sales', {
      token: adminToken,
      body: { productId, quantity, perUserLimit, startsAt: new Date(now - 1000).toISOString(), endsAt: new Date(now + 600_000).toISOString() },
    });
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  async function invariant(saleId: string) {
    let check: any;
    for (let i = 0; i < 30; i++) {
      check = (await api(`/api/admin/flash-sales/${saleId}/invariant`, { token: adminToken })).body;
      if (check.consistent) break;
      await sleep(100);
    }
    return check;
  }

  beforeAll(async () => {
    stack = await startTestStack(['user-service', 'product-service', 'purchase-service'], {}, { replicas: { 'purchase-service': 2 } });
    mint = tokenMinter(stack);
    replicaUrls = stack.replicas('purchase-service').map((r) => r.url);
    adminToken = (await api('/api/auth/login', { body: stack.admin })).body.accessToken;
    productId = (await api('/api/admin/products', { token: adminToken, body: { name: `Twin drop ${stack.run.id}`, price: 99_000 } })).body.id;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('when 400 buyers with a limit of 2 fire 3 attempts each at a 150-unit sale over both replicas, then exactly 150 are held, nobody holds more than 2, and the invariant holds', async () => {
    expect(replicaUrls).toHaveLength(2);
    const id = await sale(150, 2);
    const buyers = await Promise.all(Array.from({ length: 400 }, async () => {
      const userId = randomUUID();
      return { userId, token: await mint(userId) };
    }));
    // Each buyer's three attempts go to both replicas; a third of them through the edge (which takes turns).
    const attempts = buyers.flatMap((b, i) => [0, 1, 2].map((n) => ({ buyer: b, url: n === 2 ? stack.edgeUrl : replicaUrls[(i + n) % 2]!, key: randomUUID() })));
    const answers = await Promise.all(attempts.map((a) => buyOn(a.url, id, a.buyer.token, a.key)));

    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    const held = answers.filter((r) => r.status === 201);
    expect(held).toHaveLength(150);
    expect(new Set(held.map((r) => r.body.purchaseId)).size).toBe(150);
    expect(new Set(answers.filter((r) => r.status === 409).map((r) => r.body.code))).toEqual(new Set(['SOLD_OUT', 'LIMIT_REACHED']));
    const perBuyer = new Map<string, number>();
    answers.forEach((r, i) => {
      if (r.status === 201) perBuyer.set(attempts[i]!.buyer.userId, (perBuyer.get(attempts[i]!.buyer.userId) ?? 0) + 1);
    });
    expect(Math.max(...perBuyer.values())).toBeLessThanOrEqual(2);

    // Retrying an attempt that held, on the other replica, after the sale sold out: the same purchase.
    const index = answers.findIndex((r) => r.status === 201);
    const other = replicaUrls.find((url) => url !== attempts[index]!.url)!;
    const retry = await buyOn(other, id, attempts[index]!.buyer.token, attempts[index]!.key);
    expect(retry.status).toBe(201);
    expect(retry.body.purchaseId).toBe(answers[index]!.body.purchaseId);

    const check = await invariant(id);
    expect(check).toMatchObject({ ledgerBalances: true, consistent: true, ledger: { available: 0, held: 150, sold: 0 } });
  });

  it('when a unit comes back on one replica, then the other offers it again within a second, and both sale pages agree', async () => {
    const id = await sale(1, 1);
    const [first, second] = [await mint(), await mint()];
    const [a, b] = replicaUrls as [string, string];
    const held = await buyOn(a, id, first);
    expect(held.status).toBe(201);
    expect((await buyOn(b, id, second)).body.code).toBe('SOLD_OUT');
    expect((await apiCall(b, `/api/flash-sales/${id}`)).body).toMatchObject({ remaining: 0, status: 'SOLD_OUT' });

    expect((await apiCall(a, `/api/purchases/${held.body.purchaseId}`, { method: 'DELETE', token: first })).status).toBe(200);
    const returnedAt = Date.now();
    let answer = await buyOn(b, id, second);
    // The buyer tries again every 200 ms (within their 10 attempts per 5 s): b answers from its snapshot until it
    // re-reads the counter (SALE_SNAPSHOT_MS), then offers the unit.
    while (answer.status !== 201 && Date.now() - returnedAt < 3000) {
      expect(answer.body.code).toBe('SOLD_OUT');
      await sleep(200);
      answer = await buyOn(b, id, second);
    }
    expect(answer.status).toBe(201);
    expect(Date.now() - returnedAt).toBeLessThan(1500);

    await sleep(1100);
    const pages = await Promise.all(replicaUrls.map((url) => apiCall(url, `/api/flash-sales/${id}`)));
    expect(pages.map((p) => p.body.remaining)).toEqual([0, 0]);
    // A repeat with the page's ETag is answered 304 without a body (as a browser revalidates; fetch would otherwise add
    // its own Cache-Control: no-cache, which asks for a full answer).
    const etag = pages[0]!.headers.get('etag')!;
    expect(pages[0]!.headers.get('cache-control')).toBe('no-cache');
    const repeat = await fetch(`${replicaUrls[0]}/api/flash-sales/${id}`, { headers: { 'if-none-match': etag, 'cache-control': 'max-age=0' } });
    expect(repeat.status).toBe(304);
    expect((await invariant(id)).consistent).toBe(true);
  });
});
