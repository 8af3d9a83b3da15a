import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { STATESTORE } from '@flash/runtime';
import { paymentsFrom, TEST_TOKENS } from '@flash/payments';
import { apiCall, signalGroup, waitUntil, type ApiRequest } from '@flash/stack';
import { MySqlStockLedger, ShardedCounter, StockKeeper, type ShardValue } from '@flash/stock';
import { startTestStack, type TestStack } from '../../../test/support/stack';
import { tokenMinter } from '../../../test/support/tokens';
import { readConfig } from '../src/config';
import { PurchaseTransitionEntity } from '../src/data/entities';
import { PurchaseRepository } from '../src/data/purchase-repository';
import type { Purchase } from '../src/domain/flash-sale';
import { purgeUnpaidPurchases } from '../src/domain/retention';

describe('flash sales: exactly the stock, always', () => {
  let stack: TestStack;
  let mint: ReturnType<typeof tokenMinter>;
  let adminToken: string;
  let productId: string;
  let purchaseUrl: string;

  const api = (path: string, init?: ApiRequest) => apiCall(stack.edgeUrl, path, init);
  /** Straight to purchase-service, as the ingress would send a crowd. */
  const buy = (saleId: string, token: string, key: string = randomUUID()) =>
    apiCall(purchaseUrl, `/api/flash-sales/${saleId}/purchases`, { method: 'POST', token, headers: { 'idempotency-key': key } });

  async function sale(quantity: number, options: { startsInMs?: number; endsInMs?: number; perUserLimit?: number; holdSeconds?: number } = {}) {
    const now = Date.now();
    const res = await api('/api/admin/flash-sales', {
      token: adminToken,
      body: {
        productId, quantity,
        startsAt: new Date(now + (options.startsInMs ?? -1000)).toISOString(),
        endsAt: new Date(now + (options.endsInMs ?? 600_000)).toISOString(),
        ...(options.perUserLimit ? { perUserLimit: options.perUserLimit } : {}),
        ...(options.holdSeconds ? { holdSeconds: options.holdSeconds } : {}),
      },
    });
    expect(res.status).toBe(201);
    return res.body as { id: string; quantity: number; remaining: number; status: string };
  }

  /** The operator's check, after every concurrency test: the ledger balances, and counter and purchases agree with it. */
  async function expectInvariant(saleId: string) {
    let check: any;
    for (let i = 0; i < 20; i++) {
      check = (await api(`/api/admin/flash-sales/${saleId}/invariant`, { token: adminToken })).body;
      expect(check.ledgerBalances).toBe(true);
      if (check.consistent) break;
      await sleep(100);
    }
    expect(check).toMatchObject({ ledgerBalances: true, consistent: true });
    expect(check.ledger.available + check.ledger.held + check.ledger.sold).toBe(check.quantity);
    return check;
  }

  beforeAll(async () => {
    stack = await startTestStack(['user-service', 'product-service', 'purchase-service', 'order-service'], {
      'purchase-service': { PAYMENT_FAILURE_RATE: '0.5', PAYMENT_LATENCY_MS: '5', PAYMENT_SEED: 'test', SALE_SNAPSHOT_MS: '250', HOLD_COOLDOWN_SECONDS: '3' },
    });
    mint = tokenMinter(stack);
    purchaseUrl = stack.service('purchase-service').url;
    adminToken = (await api('/api/auth/login', { body: stack.admin })).body.accessToken;
    productId = (await api('/api/admin/products', { token: adminToken, body: { name: `Drop ${stack.run.id}`, price: 129_000 } })).body.id;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('when 2,000 buyers try a 100-unit sale at once, then exactly 100 hold a unit and the rest are told SOLD_OUT', async () => {
    const { id } = await sale(100);
    const tokens = await Promise.all(Array.from({ length: 2000 }, () => mint()));
    const results = await Promise.all(tokens.map((token) => buy(id, token)));
    const byStatus = new Map<number, number>();
    for (const r of results) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    expect(Object.fromEntries(byStatus)).toEqual({ 201: 100, 409: 1900 });
    expect(results.filter((r) => r.status === 409).every((r) => r.body.code === 'SOLD_OUT')).toBe(true);
    expect(results.filter((r) => r.status === 201).every((r) => r.body.status === 'HELD' && r.body.holdExpiresAt)).toBe(true);

    const check = await expectInvariant(id);
    expect(check.ledger).toEqual({ available: 0, held: 100, sold: 0 });
    expect((await api(`/api/flash-sales/${id}`)).body).toMatchObject({ remaining: 0, status: 'SOLD_OUT' });
  });

  it('when one buyer fires 50 attempts over 3 sessions, then exactly their limit is held and the attempts past their rate get 429', async () => {
    const { id } = await sale(100, { perUserLimit: 2 });
    const buyer = randomUUID();
    const sessions = await Promise.all([mint(buyer), mint(buyer), mint(buyer)]);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => buy(id, sessions[i % 3]!)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(2);
    // Past the per-user attempt rate (10 per 5 s) the answer is 429 with Retry-After; below it, LIMIT_REACHED.
    const refused = results.filter((r) => r.status !== 201);
    expect(new Set(refused.map((r) => `${r.status} ${r.body.code}`))).toEqual(new Set(['409 LIMIT_REACHED', '429 TOO_MANY_ATTEMPTS']));
    expect(refused.filter((r) => r.status === 409)).toHaveLength(8);
    expect(refused.filter((r) => r.status === 429).every((r) => Number(r.headers.get('retry-after')) >= 1)).toBe(true);
    expect((await expectInvariant(id)).ledger).toEqual({ available: 98, held: 2, sold: 0 });
  });

  it('when the same Idempotency-Key is sent again and again, then there is one purchase and the same answer', async () => {
    const { id } = await sale(10);
    const token = await mint();
    const answers = await Promise.all(Array.from({ length: 5 }, () => buy(id, token, 'same-key')));
    // 9 here and 1 below: within the per-user attempt rate (10 per 5 s).
    for (let i = 0; i < 4; i++) answers.push(await buy(id, token, 'same-key'));
    expect(answers.map((a) => a.status)).toEqual(Array(9).fill(201));
    expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);
    expect((await expectInvariant(id)).ledger).toEqual({ available: 9, held: 1, sold: 0 });

    const other = await sale(10);
    expect((await buy(other.id, token, 'same-key')).body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await apiCall(purchaseUrl, `/api/flash-sales/${id}/purchases`, { method: 'POST', token })).status).toBe(400);
  });

  it('when replicas expire the same holds at once, then each unit comes back once and is for sale again', async () => {
    const { id } = await sale(5, { holdSeconds: 1 });
    const buyers = await Promise.all(Array.from({ length: 5 }, () => mint()));
    expect((await Promise.all(buyers.map((token) => buy(id, token)))).every((h) => h.status === 201)).toBe(true);
    expect((await buy(id, await mint())).body.code).toBe('SOLD_OUT');
    await sleep(1100);
    await Promise.all([
      stack.runJob('purchase-service', 'hold expiry'),
      stack.runJobAsReplica('purchase-service', 'hold expiry'),
      stack.runJobAsReplica('purchase-service', 'hold expiry'),
    ]);
    const check = await expectInvariant(id);
    expect(check.ledger).toEqual({ available: 5, held: 0, sold: 0 });
    expect(check.purchases).toMatchObject({ held: 0, expired: 5 });
    // The units the "replicas" returned are offered here once this replica's snapshot is re-read (SALE_SNAPSHOT_MS, 250).
    let again = await buy(id, await mint());
    for (let i = 0; again.status !== 201 && i < 20; i++) {
      await sleep(100);
      again = await buy(id, await mint());
    }
    expect(again.status).toBe(201);
  });

  it('when buyers pay, fail to pay, abandon or let holds expire, then each unit comes back once and orders equal sold', async () => {
    const { id } = await sale(12, { holdSeconds: 2 });
    const buyers = await Promise.all(Array.from({ length: 12 }, () => mint()));
    const holds = await Promise.all(buyers.map((token) => buy(id, token)));
    expect(holds.every((h) => h.status === 201)).toBe(true);
    const purchaseOf = (i: number) => holds[i]!.body.purchaseId as string;

    // 6 pay (the simulated provider declines about half), 3 abandon, 3 walk away.
    const payments = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => api(`/api/purchases/${purchaseOf(i)}/payment`, { method: 'POST', token: buyers[i] })));
    expect(payments.every((p) => p.status === 200 || p.status === 402)).toBe(true);
    const paid = payments.filter((p) => p.status === 200);
    expect(paid.every((p) => p.body.status === 'PAID' && p.body.orderId)).toBe(true);
    expect(payments.filter((p) => p.status === 402).every((p) => p.body.code === 'PAYMENT_FAILED')).toBe(true);
    expect((await api(`/api/purchases/${purchaseOf(0)}/payment`, { method: 'POST', token: buyers[1] })).status).toBe(404);
    const again = await api(`/api/purchases/${paid[0]!.body.purchaseId}/payment`, { method: 'POST', token: buyers[payments.indexOf(paid[0]!)] });
    expect(again.body).toEqual(paid[0]!.body);

    for (const i of [6, 7, 8]) {
      expect((await api(`/api/purchases/${purchaseOf(i)}`, { method: 'DELETE', token: buyers[i] })).body.status).toBe('ABANDONED');
    }
    expect((await api(`/api/purchases/${purchaseOf(6)}`, { method: 'DELETE', token: buyers[6] })).body.status).toBe('ABANDONED');

    await sleep(2100); // the holds of 9, 10, 11 run out; the hold expiry job, woken for their time, expires them
    const late = await api(`/api/purchases/${purchaseOf(9)}/payment`, { method: 'POST', token: buyers[9] });
    expect(late.status).toBe(410);
    expect(late.body.code).toBe('HOLD_EXPIRED');
    await waitUntil('the expiry job has run', async () =>
      (await api(`/api/admin/flash-sales/${id}/invariant`, { token: adminToken })).body.purchases.held === 0, 10_000, 100);

    const check = await expectInvariant(id);
    expect(check.ledger).toEqual({ available: 12 - paid.length, held: 0, sold: paid.length });
    expect(check.purchases).toEqual({
      held: 0, paid: paid.length, paymentFailed: 6 - paid.length, abandoned: 3, expired: 3, restocked: 0,
    });
    // Exactly one PAID event per sold unit, published through Dapr pub/sub (the outbox relay runs when one is written).
    const orderDb = stack.service('order-service').service.dataSource;
    const ordersOfSale = () => orderDb.query('SELECT order_id FROM order_items WHERE sale_id = ?', [id]);
    const paidEvents = async () => (await stack.service('purchase-service').service.dataSource.query(
      "SELECT payload, published_at FROM outbox WHERE topic = 'purchase-paid'",
    )).filter((e: { payload: string }) => JSON.parse(e.payload).saleId === id);
    await waitUntil('every PAID event published and ordered', async () =>
      (await paidEvents()).every((e: { published_at: Date | null }) => e.published_at !== null) && (await ordersOfSale()).length >= paid.length, 10_000, 100);
    const forThisSale = await paidEvents();
    expect(forThisSale).toHaveLength(paid.length);
    expect(forThisSale.every((e: { published_at: Date | null }) => e.published_at !== null)).toBe(true);
    // …and order-service made exactly one order of each.
    const orders = await ordersOfSale();
    expect(orders).toHaveLength(paid.length);
    expect(new Set(orders.map((o: { order_id: string }) => o.order_id))).toEqual(new Set(paid.map((p) => p.body.orderId)));
  });

  it('when a paid purchase has no order when it is checked (its event lost with the broker), then its event is sent again and it becomes one order', async () => {
    const { id } = await sale(2);
    const token = await mint();
    const held = await buy(id, token);
    const purchaseId = held.body.purchaseId as string;
    const paidAnswer = await api(`/api/purchases/${purchaseId}/payment`, { method: 'POST', token, body: { paymentToken: TEST_TOKENS.approve } });
    expect(paidAnswer.status).toBe(200);
    const purchaseDb = stack.service('purchase-service').service.dataSource;
    const orderDb = stack.service('order-service').service.dataSource;
    const ordersOf = async () => (await orderDb.query('SELECT id FROM orders WHERE id = ?', [purchaseId])) as unknown[];
    await waitUntil('the order is placed', async () => (await ordersOf()).length === 1, 10_000, 100);
    // Paid: to be checked ORDER_CHECK_SECONDS (60) after the payment, not before.
    const [{ wait }] = await purchaseDb.query('SELECT TIMESTAMPDIFF(SECOND, updated_at, order_check_at) AS wait FROM purchases WHERE id = ?', [purchaseId]);
    expect(Number(wait)).toBe(60);
    await stack.runJob('purchase-service', 'order checks');
    expect(await purchaseDb.query('SELECT order_check_at FROM purchases WHERE id = ?', [purchaseId])).toEqual([{ order_check_at: expect.any(Date) }]);

    // What order-service has after its event was lost: nothing of the purchase. The check falls due.
    for (const table of ['order_items', 'order_transitions']) await orderDb.query(`DELETE FROM ${table} WHERE order_id = ?`, [purchaseId]);
    await orderDb.query('DELETE FROM orders WHERE id = ?', [purchaseId]);
    await orderDb.query('DELETE FROM payments WHERE id = ?', [purchaseId]);
    await purchaseDb.query('UPDATE purchases SET order_check_at = NOW(3) WHERE id = ?', [purchaseId]);
    await stack.runJob('purchase-service', 'order checks');
    await waitUntil('the order is placed again', async () => (await ordersOf()).length === 1, 10_000, 100);
    const order = await api(`/api/orders/${purchaseId}`, { token });
    expect(order.body).toMatchObject({ id: purchaseId, source: 'FLASH', status: 'PLACED', payment: { status: 'PAID', reference: `sim-ch-${purchaseId}` } });
    expect(paidAnswer.body.orderId).toBe(purchaseId);
    // Checked again later; once found, never again.
    await purchaseDb.query('UPDATE purchases SET order_check_at = NOW(3) WHERE id = ?', [purchaseId]);
    await stack.runJob('purchase-service', 'order checks');
    expect(await purchaseDb.query('SELECT order_check_at FROM purchases WHERE id = ?', [purchaseId])).toEqual([{ order_check_at: null }]);
    const sent = await purchaseDb.query("SELECT payload FROM outbox WHERE topic = 'purchase-paid'");
    expect(sent.filter((e: { payload: string }) => JSON.parse(e.payload).purchaseId === purchaseId)).toHaveLength(2);
  });

  it('when a charge lands but its payment is never recorded (the payer died in between), then the money comes back when the buyer abandons or the hold runs out', async () => {
    const { id } = await sale(3, { holdSeconds: 1 });
    const buyers = await Promise.all([mint(), mint(), mint()]);
    const holds = await Promise.all(buyers.map((token) => buy(id, token)));
    expect(holds.map((h) => h.status)).toEqual([201, 201, 201]);
    const [abandoning, walkingAway, unpaid] = holds.map((h) => h.body.purchaseId as string);
    // What a payment does first, under the purchase id as the charge's key, without what it does next (its process was
    // killed in between, and its buyer saw no answer).
    const purchase = stack.service('purchase-service');
    const payments = paymentsFrom(readConfig(purchase.env), purchase.service.dapr);
    for (const key of [abandoning!, walkingAway!]) {
      expect(await payments.charge({ key, amount: 129_000, customerId: 'a buyer', token: TEST_TOKENS.approve })).toMatchObject({ status: 'APPROVED' });
    }

    expect((await api(`/api/purchases/${abandoning}`, { method: 'DELETE', token: buyers[0] })).body.status).toBe('ABANDONED');
    await waitUntil('the other holds have run out', async () =>
      (await api(`/api/admin/flash-sales/${id}/invariant`, { token: adminToken })).body.purchases.expired === 2, 10_000, 100);
    // Each charge is refunded in full, once; the hold that was never charged is neither charged nor refunded.
    const book = async () => payments.statements([abandoning!, walkingAway!, unpaid!]);
    await waitUntil('both charges refunded', async () => [...(await book()).values()].every((s) => s.refunded === s.charged), 10_000, 100);
    expect(Object.fromEntries(await book())).toEqual({
      [abandoning!]: { charged: 129_000, refunded: 129_000 },
      [walkingAway!]: { charged: 129_000, refunded: 129_000 },
      [unpaid!]: { charged: 0, refunded: 0 },
    });
    expect((await api(`/api/admin/payments/invariant?saleId=${id}`, { token: adminToken })).body).toMatchObject({ consistent: true, standing: 0 });
    expect((await expectInvariant(id)).ledger).toEqual({ available: 3, held: 0, sold: 0 });
  });

  it('when the provider loses the answers of many charges, then other payments are answered meanwhile, and a retry during a lost answer pays once', async () => {
    // As many lost answers as purchase-lock transactions may run at once (half the pool of 60), and one more buyer.
    const { id } = await sale(31);
    const buyers = await Promise.all(Array.from({ length: 31 }, () => mint()));
    const holds = await Promise.all(buyers.map((token) => buy(id, token)));
    expect(holds.every((h) => h.status === 201)).toBe(true);
    const pay = (i: number, paymentToken?: string) =>
      api(`/api/purchases/${holds[i]!.body.purchaseId}/payment`, { method: 'POST', token: buyers[i], body: paymentToken ? { paymentToken } : {} });

    const started = Date.now();
    const lost = Array.from({ length: 30 }, (_, i) => pay(i, 'tok_timeout'));
    await sleep(300);
    // PAYMENT_TIMEOUT_MS is 3 s: this payment does not wait for the lost answers.
    expect(await pay(30, 'tok_approve')).toMatchObject({ status: 200, body: { status: 'PAID' } });
    expect(Date.now() - started).toBeLessThan(2000);
    // Buyer 0 retries while their first answer is lost: the charge that landed is theirs, once.
    expect(await pay(0)).toMatchObject({ status: 200, body: { status: 'PAID' } });
    expect(Date.now() - started).toBeLessThan(2500);

    const answers = await Promise.all(lost);
    expect(answers[0]).toMatchObject({ status: 200, body: { status: 'PAID' } });
    expect(answers.slice(1).every((a) => a.status === 504 && a.body.code === 'PAYMENT_TIMEOUT')).toBe(true);
    const check = await expectInvariant(id);
    expect(check.ledger).toEqual({ available: 29, held: 0, sold: 2 });
    expect(check.purchases).toMatchObject({ held: 0, paid: 2, paymentFailed: 29 });
    // The lost charges are given back and the two paid ones stand: charged once each, never twice. (A lost charge
    // the provider had not booked yet when its void came is refused for good: then it is neither charged nor refunded.)
    let money: any;
    for (let i = 0; i < 100 && !money?.consistent; i++) {
      if (i) await sleep(200);
      money = (await api(`/api/admin/payments/invariant?saleId=${id}`, { token: adminToken })).body;
    }
    expect(money).toMatchObject({ consistent: true, standing: 2 * 129_000 });
    expect(money.charged - money.refunded).toBe(2 * 129_000);
    expect(money.charged).toBeLessThanOrEqual(31 * 129_000);
  });

  it('when a sale has not opened or has ended, then attempts are refused; it opens at startsAt without a restart', async () => {
    const upcoming = await sale(5, { startsInMs: 1500 });
    const token = await mint();
    const early = await buy(upcoming.id, token);
    expect(early.status).toBe(403);
    expect(early.body.code).toBe('SALE_NOT_OPEN');
    expect((await api(`/api/flash-sales/${upcoming.id}`)).body.status).toBe('SCHEDULED');
    await sleep(1600);
    expect((await buy(upcoming.id, token)).status).toBe(201);
    expect((await api(`/api/flash-sales/${upcoming.id}`)).body.status).toBe('LIVE');

    const closing = await sale(5, { endsInMs: 800 });
    await sleep(900);
    const ended = await buy(closing.id, token);
    expect(ended.status).toBe(403);
    expect(ended.body.code).toBe('SALE_ENDED');
    const listed = (await api('/api/flash-sales')).body.items.map((s: { id: string }) => s.id);
    expect(listed).toContain(upcoming.id);
    expect(listed).not.toContain(closing.id);
  });

  it('when a sold-out sale gets a unit back, then the next buyer can take it', async () => {
    const { id } = await sale(1);
    const [first, second] = await Promise.all([mint(), mint()]);
    const held = await buy(id, first);
    expect((await buy(id, second)).body.code).toBe('SOLD_OUT');
    expect((await buy(id, second)).body.code).toBe('SOLD_OUT');
    await api(`/api/purchases/${held.body.purchaseId}`, { method: 'DELETE', token: first });
    expect((await buy(id, second)).status).toBe(201);
    await expectInvariant(id);
  });

  it('when a sale is sold out, then anyone with a bearer token is told SOLD_OUT before it is checked, but a retry that would get a purchase needs a valid one', async () => {
    const { id } = await sale(1);
    const token = await mint();
    const held = await buy(id, token, 'holder-key');
    expect(held.status).toBe(201);
    // The holder's claims with a broken signature: the sale's answer to anyone is SOLD_OUT, as its page says (once
    // memory knows every attempt that held; until then an attempt goes the whole way, token checked first).
    const forged = `${token.slice(0, token.lastIndexOf('.'))}.${'A'.repeat(86)}`;
    await waitUntil('a forged token told SOLD_OUT', async () => (await buy(id, forged)).body.code === 'SOLD_OUT', 10_000);
    // What only the holder may see, their purchase under its key, needs the token checked.
    const retried = await buy(id, forged, 'holder-key');
    expect([retried.status, retried.body.code]).toEqual([401, 'INVALID_TOKEN']);
    expect((await buy(id, token, 'holder-key')).body.purchaseId).toBe(held.body.purchaseId);
    // No token at all, or a bad key: checked first, as before.
    const anonymous = await apiCall(purchaseUrl, `/api/flash-sales/${id}/purchases`, { method: 'POST', headers: { 'idempotency-key': 'k' } });
    expect([anonymous.status, anonymous.body.code]).toEqual([401, 'UNAUTHENTICATED']);
    expect((await buy(id, forged, 'a key with spaces')).status).toBe(401);
    await expectInvariant(id);
  });

  it('when purchase-service\'s sidecar is killed mid-sale, then buyers get 503 with Retry-After, and retrying with the same key after its restart sells exactly the stock', async () => {
    const { id } = await sale(10);
    const buyers = await Promise.all(Array.from({ length: 30 }, async () => ({ token: await mint(), key: randomUUID() })));
    const early = await Promise.all(buyers.slice(0, 4).map((b) => buy(id, b.token, b.key)));
    expect(early.map((r) => r.status)).toEqual([201, 201, 201, 201]);

    const purchase = stack.service('purchase-service');
    const { ports } = purchase.sidecar;
    signalGroup(purchase.sidecar.child.pid!, 'SIGKILL');
    await purchase.sidecar.exited;
    const during = await Promise.all(buyers.map((b) => buy(id, b.token, b.key)));
    for (const [i, answer] of during.entries()) {
      if (answer.status === 201) {
        expect(answer.body.purchaseId).toBe(early[i]?.body.purchaseId);
      } else {
        expect(answer.status).toBe(503);
        expect(answer.headers.get('content-type')).toContain('application/problem+json');
        expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
      }
    }
    expect(during.filter((r) => r.status === 503).length).toBeGreaterThanOrEqual(26);

    await stack.run.start('purchase-service', purchase.running.port, ports);
    const retried = await Promise.all(buyers.map((b) => buy(id, b.token, b.key)));
    const held = retried.filter((r) => r.status === 201);
    expect(held).toHaveLength(10);
    expect(retried.filter((r) => r.status === 409).every((r) => r.body.code === 'SOLD_OUT')).toBe(true);
    expect(retried.slice(0, 4).map((r) => r.body.purchaseId)).toEqual(early.map((r) => r.body.purchaseId));
    expect(new Set(held.map((r) => r.body.purchaseId)).size).toBe(10);
    const check = await expectInvariant(id);
    expect(check.ledger).toEqual({ available: 0, held: 10, sold: 0 });
  });

  it('when purchase-service dies between taking units and recording them, then its restart gives them back at once; another replica\'s young entry waits', async () => {
    const { id } = await sale(10);
    const purchase = stack.service('purchase-service');
    const counter = (replica: string) =>
      new ShardedCounter(purchase.service.dapr.state<ShardValue>('statestore'), { shards: readConfig(purchase.env).STOCK_SHARDS, prefix: 'flash', replica });
    // What a process of this replica left when it died (an earlier start of the same name), and a batch in flight on another replica.
    const earlierLife = counter(purchase.env.REPLICA_NAME!);
    expect(await earlierLife.take(id, 'b:died-mid-batch', 3)).toBeDefined();
    const inFlight = await counter('purchase-service-elsewhere').take(id, 'b:in-flight', 2);
    expect(inFlight).toBeDefined();
    const started = Date.now();

    const restart = await stack.halt('purchase-service');
    await restart();
    await waitUntil('the dead process\'s units are back', async () => (await earlierLife.read(id)).available === 8, 5_000, 50);
    // Long before STOCK_ORPHAN_AFTER_SECONDS (10): the other replica's entry is still there, its units still taken.
    expect(Date.now() - started).toBeLessThan(readConfig(purchase.env).STOCK_ORPHAN_AFTER_SECONDS * 1000);
    const { shards } = await earlierLife.read(id);
    expect(shards.flatMap((s) => Object.keys(s.ops)).map((op) => op.split('#')[0])).toEqual(inFlight!.map(() => 'b:in-flight'));
    // That replica gives its units back (its batch failed): the sale adds up.
    await counter('purchase-service-elsewhere').settle(id, inFlight!, true);
    const check = await expectInvariant(id);
    expect(check.ledger).toEqual({ available: 10, held: 0, sold: 0 });
  });

  it('when purchase-service dies between giving a unit back to the counter and recording the give as applied, then the unit is given once', async () => {
    const { id } = await sale(10);
    const held = await buy(id, await mint());
    expect(held.status).toBe(201);
    const purchaseId = held.body.purchaseId as string;
    const purchase = stack.service('purchase-service');
    const db = purchase.service.dataSource;
    const ledger = new MySqlStockLedger(db, 'flash_sales');
    // What an abandon had done when its process died: the purchase ended, the ledger recorded the give, the counter got
    // the unit (an entry of this replica's earlier life), and the ledger was never told the give was applied.
    await new PurchaseRepository(db, 2).withPurchaseLock(purchaseId, async () => ({ result: true, to: 'ABANDONED' as const, reason: 'abandoned by the buyer' }));
    const released = (await ledger.release([purchaseId], 'RELEASED')).get(purchaseId);
    const counter = (replica: string) =>
      new ShardedCounter(purchase.service.dapr.state<ShardValue>(STATESTORE), { shards: readConfig(purchase.env).STOCK_SHARDS, prefix: 'flash', replica });
    const earlierLife = counter(purchase.env.REPLICA_NAME!);
    expect(await earlierLife.give(id, released!.opId!, 1)).toBeDefined();

    const restart = await stack.halt('purchase-service');
    await restart();
    await waitUntil('the earlier life\'s entry settled', async () => (await earlierLife.read(id)).shards.every((s) => !Object.keys(s.ops).length), 5_000, 50);
    // The job that finishes gives a dead process left unapplied (here without waiting STOCK_ORPHAN_AFTER_SECONDS).
    const restarted = new MySqlStockLedger(stack.service('purchase-service').service.dataSource, 'flash_sales');
    await new StockKeeper(counter('purchase-service-elsewhere'), restarted, { what: 'Flash sale', defaultHoldSeconds: 300, orphanAfterMs: 0 }).expireDue();
    const check = await expectInvariant(id);
    expect(check.ledger).toEqual({ available: 10, held: 0, sold: 0 });
    expect(check.counter.available).toBe(10);
  });

  it('when purchase-service dies between ending a purchase unpaid and giving its unit back, then its restart gives the unit back', async () => {
    const { id } = await sale(10);
    const held = await buy(id, await mint());
    expect(held.status).toBe(201);
    // What a payment the provider declined had done when its process died: the purchase ended, its unit still held.
    const db = stack.service('purchase-service').service.dataSource;
    await new PurchaseRepository(db, 2).withPurchaseLock(held.body.purchaseId as string, async () => ({ result: true, to: 'PAYMENT_FAILED' as const, reason: 'card declined' }));
    expect((await api(`/api/admin/flash-sales/${id}/invariant`, { token: adminToken })).body).toMatchObject({ consistent: false, ledger: { held: 1 } });

    const restart = await stack.halt('purchase-service');
    await restart();
    // At once, not when the unit's stock hold runs out (the sale's hold plus STOCK_HOLD_MARGIN_SECONDS).
    await waitUntil('the unit is back', async () =>
      (await api(`/api/admin/flash-sales/${id}/invariant`, { token: adminToken })).body.ledger.available === 10, 5_000, 100);
    const check = await expectInvariant(id);
    expect(check.ledger).toEqual({ available: 10, held: 0, sold: 0 });
    expect(check.purchases).toMatchObject({ held: 0, paymentFailed: 1 });
  });

  it('when a batch loses its database connection at its commit, then the ledger decides: a commit that landed keeps its holds, one that did not gives the units back once', async () => {
    const purchase = stack.service('purchase-service');
    const db = purchase.service.dataSource;
    /** A ledger whose connection dies at the commit: after it (the answer is lost) or before it (nothing is kept). */
    class LosingLedger extends MySqlStockLedger {
      constructor(private readonly committed: boolean) {
        super(db, 'flash_sales');
      }
      override async recordTake(...args: Parameters<MySqlStockLedger['recordTake']>): ReturnType<MySqlStockLedger['recordTake']> {
        if (this.committed) await super.recordTake(...args);
        throw Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST' });
      }
    }
    const keeper = (committed: boolean) => new StockKeeper(
      new ShardedCounter(purchase.service.dapr.state<ShardValue>(STATESTORE), { shards: readConfig(purchase.env).STOCK_SHARDS, prefix: 'flash', replica: 'purchase-service-elsewhere' }),
      new LosingLedger(committed), { what: 'Flash sale', defaultHoldSeconds: 300, orphanAfterMs: 600_000, total: async () => 2 },
    );
    const holds = (saleId: string) => Array.from({ length: 2 }, (): Purchase => {
      const now = new Date();
      return {
        id: randomUUID(), saleId, buyerId: randomUUID(), idempotencyKey: randomUUID(), status: 'HELD', price: 129_000, orderId: null,
        limitSlot: 0, holdExpiresAt: new Date(now.getTime() + 300_000), createdAt: now, updatedAt: now,
      };
    });
    const reserve = (saleId: string, committed: boolean, held: Purchase[]) => keeper(committed).reserveBatch(
      saleId, held.map((p) => ({ reservationId: p.id, holdSeconds: 360 })), (tx) => new PurchaseRepository(db, 2).insertHeld(tx, held, []),
    );

    // Committed, the answer lost: the holds stand, the units stay sold to them (giving them back would sell them twice).
    const landed = await sale(2);
    const kept = holds(landed.id);
    expect(await reserve(landed.id, true, kept)).toEqual(kept.map((p) => p.id));
    expect((await expectInvariant(landed.id)).ledger).toEqual({ available: 0, held: 2, sold: 0 });
    expect((await buy(landed.id, await mint())).body.code).toBe('SOLD_OUT');

    // Not committed: the batch fails, and its units are for sale again, once.
    const lost = await sale(2);
    await expect(reserve(lost.id, false, holds(lost.id))).rejects.toThrow('Connection lost');
    expect((await expectInvariant(lost.id)).ledger).toEqual({ available: 2, held: 0, sold: 0 });
    let again = await buy(lost.id, await mint());
    for (let i = 0; again.status !== 201 && i < 20; i++) {
      await sleep(100); // this replica's snapshot of the sale is re-read every SALE_SNAPSHOT_MS (250)
      again = await buy(lost.id, await mint());
    }
    expect(again.status).toBe(201);
  });

  it('when another replica\'s hold commits long after the sale emptied, then a retry with its key gets that purchase, not SOLD_OUT', async () => {
    const { id } = await sale(1);
    const purchase = stack.service('purchase-service');
    const db = purchase.service.dataSource;
    // Another replica's batch: it takes the last unit, writes the purchase and is slow to commit (a stalled database).
    const elsewhere = new StockKeeper(
      new ShardedCounter(purchase.service.dapr.state<ShardValue>(STATESTORE), { shards: readConfig(purchase.env).STOCK_SHARDS, prefix: 'flash', replica: 'purchase-service-elsewhere' }),
      new MySqlStockLedger(db, 'flash_sales'),
      { what: 'Flash sale', defaultHoldSeconds: 300, orphanAfterMs: 600_000, total: async () => 1 },
    );
    const buyerId = randomUUID();
    const key = randomUUID();
    const now = new Date();
    const held: Purchase = {
      id: randomUUID(), saleId: id, buyerId, idempotencyKey: key, status: 'HELD', price: 129_000, orderId: null, limitSlot: 0,
      holdExpiresAt: new Date(now.getTime() + 300_000), createdAt: now, updatedAt: now,
    };
    let commit!: () => void;
    let written!: () => void;
    const inTransaction = new Promise<void>((resolve) => (written = resolve));
    const batch = elsewhere.reserveBatch(id, [{ reservationId: held.id, holdSeconds: 360 }], async (tx) => {
      await new PurchaseRepository(db, 2).insertHeld(tx, [held], []);
      written();
      await new Promise<void>((resolve) => (commit = resolve));
    });
    await inTransaction;

    // The crowd meanwhile: refused, for longer than any fixed settling time.
    for (let i = 0; i < 6; i++) {
      expect((await buy(id, await mint())).body.code).toBe('SOLD_OUT');
      await sleep(500);
    }
    commit();
    expect(await batch).toEqual([held.id]);
    const retried = await buy(id, await mint(buyerId), key);
    expect(retried.status).toBe(201);
    expect(retried.body.purchaseId).toBe(held.id);
    expect((await expectInvariant(id)).ledger).toEqual({ available: 0, held: 1, sold: 0 });
  });

  it('when a buyer holds, abandons and tries again with fresh keys, then the abandoned hold counts against their limit until its cooldown is over', async () => {
    const { id } = await sale(10, { perUserLimit: 1 });
    const token = await mint();
    const first = await buy(id, token);
    expect(first.status).toBe(201);
    expect((await api(`/api/purchases/${first.body.purchaseId}`, { method: 'DELETE', token })).status).toBe(200);
    const again = await buy(id, token);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('LIMIT_REACHED');
    await sleep(3100);
    const later = await buy(id, token);
    expect(later.status).toBe(201);
    expect((await expectInvariant(id)).ledger).toEqual({ available: 9, held: 1, sold: 0 });
  });

  it('when unpaid purchases outlive their retention, then the purge deletes them with their transitions and keeps held ones; until then it only says when', async () => {
    const { id } = await sale(4);
    const buyers = await Promise.all(Array.from({ length: 4 }, () => mint()));
    const holds = await Promise.all(buyers.map((token) => buy(id, token)));
    const purchaseOf = (i: number) => holds[i]!.body.purchaseId as string;
    for (const i of [0, 1]) expect((await api(`/api/purchases/${purchaseOf(i)}`, { method: 'DELETE', token: buyers[i] })).body.status).toBe('ABANDONED');
    const dataSource = stack.service('purchase-service').service.dataSource;
    const store = new PurchaseRepository(dataSource, 2);
    const retentionMs = 30 * 86_400_000;

    const early = await purgeUnpaidPurchases(store, retentionMs);
    expect(early.purged).toBe(0);
    expect(early.dueInMs).toBeGreaterThan(retentionMs - 3_600_000);

    // The clock moved past the retention (the job runs with the real one).
    let run = await purgeUnpaidPurchases(store, retentionMs, Date.now() + retentionMs + 1000);
    while (run.dueInMs === 0) run = await purgeUnpaidPurchases(store, retentionMs, Date.now() + retentionMs + 1000);
    expect(run.dueInMs).toBeUndefined();
    const transitions = dataSource.getRepository(PurchaseTransitionEntity);
    for (const i of [0, 1]) {
      expect((await api('/api/purchases', { token: buyers[i] })).body.items).toEqual([]);
      expect(await transitions.countBy({ purchaseId: purchaseOf(i) })).toBe(0);
    }
    for (const i of [2, 3]) {
      expect((await api('/api/purchases', { token: buyers[i] })).body.items.map((p: { status: string }) => p.status)).toEqual(['HELD']);
      expect(await transitions.countBy({ purchaseId: purchaseOf(i) })).toBe(1);
    }
    await expectInvariant(id);
  });

  it('when a buyer looks at their history, then they see their own purchases only', async () => {
    const { id } = await sale(5);
    const buyer = randomUUID();
    const token = await mint(buyer);
    const held = await buy(id, token);
    const history = await api('/api/purchases', { token });
    expect(history.body.items).toEqual([expect.objectContaining({ purchaseId: held.body.purchaseId, status: 'HELD', saleId: id })]);
    expect((await api('/api/purchases', { token: await mint() })).body.items).toEqual([]);
  });

  /** What purchase-service's /metrics says now, one line per series: `name{labels}` → value. */
  async function metrics(): Promise<Map<string, number>> {
    const text = await (await fetch(`${purchaseUrl}/metrics`)).text();
    return new Map(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]));
  }
  const breaches = async () => {
    const found = await metrics();
    return {
      ledger: found.get('stock_invariant_breaches{check="ledger",service="purchase-service"}'),
      counter: found.get('stock_invariant_breaches{check="counter",service="purchase-service"}'),
    };
  };

  it('when a sale’s counter or ledger is changed behind the stock keeper’s back, then the stock audit reports each breach on /metrics, and none once put right', async () => {
    expect(await breaches()).toEqual({ ledger: 0, counter: 0 });
    const { id } = await sale(3);
    expect((await buy(id, await mint())).status).toBe(201);
    // 5 units appear in the counter with no movement in the ledger (what a lost or doubled write would leave).
    const purchase = stack.service('purchase-service');
    const counter = new ShardedCounter(purchase.service.dapr.state<ShardValue>(STATESTORE), { shards: 1, prefix: 'flash' });
    const drift = async (opId: string, units: number) => {
      const parts = units > 0 ? [await counter.give(id, opId, units)] : (await counter.take(id, opId, -units))!;
      await counter.settle(id, parts, false);
    };
    await drift(`drift-${randomUUID()}`, 5);
    await sleep(2500); // the audit runs once the sale the hold changed has been quiet for 2 s
    await stack.runJob('purchase-service', 'stock audit');
    expect(await breaches()).toEqual({ ledger: 0, counter: 1 });

    // The counter put right, a movement written into the ledger alone: the sale's units no longer add up to 3.
    await drift(`undrift-${randomUUID()}`, -5);
    const db = purchase.service.dataSource;
    const opId = `audit-test-${randomUUID()}`;
    await db.query(
      "INSERT INTO stock_movements (stock_id, op_id, kind, available_delta, sold_delta, applied_at) VALUES (?, ?, 'set', 1, 0, NOW(3))", [id, opId],
    );
    await stack.runJob('purchase-service', 'stock audit');
    expect(await breaches()).toEqual({ ledger: 1, counter: 1 });
    expect((await api(`/api/admin/flash-sales/${id}/invariant`, { token: adminToken })).body).toMatchObject({ ledgerBalances: false, consistent: false });

    await db.query('DELETE FROM stock_movements WHERE op_id = ?', [opId]);
    await stack.runJob('purchase-service', 'stock audit');
    expect(await breaches()).toEqual({ ledger: 0, counter: 0 });
    await expectInvariant(id);
  });

  it('when the outbox relay cannot publish an event, then the age of the oldest waiting event shows on /metrics until it is gone', async () => {
    const oldest = async () => (await metrics()).get('outbox_oldest_pending_seconds{service="purchase-service"}');
    expect(await oldest()).toBe(0);
    const db = stack.service('purchase-service').service.dataSource;
    // A topic outside purchase-service's publishing scopes: its sidecar refuses every publish, as a broken one would.
    const { insertId } = await db.query(
      "INSERT INTO outbox (topic, payload, created_at) VALUES ('not-a-topic-of-ours', '{}', NOW(3) - INTERVAL 90 SECOND)",
    );
    try {
      await stack.runJob('purchase-service', 'outbox relay');
      const waited = await oldest();
      expect(waited).toBeGreaterThanOrEqual(90);
      await sleep(1100);
      expect(await oldest()).toBeGreaterThan(waited! + 1); // the age grows between the relay's runs
      expect(await db.query('SELECT published_at FROM outbox WHERE id = ?', [insertId])).toEqual([{ published_at: null }]);
    } finally {
      await db.query('DELETE FROM outbox WHERE id = ?', [insertId]);
    }
    await stack.runJob('purchase-service', 'outbox relay');
    expect(await oldest()).toBe(0);
  });

  it('when a customer creates a sale or input is bad, then 403 or a 400 problem naming the field', async () => {
    const now = Date.now();
    const body = { productId, quantity: 5, startsAt: new Date(now).toISOString(), endsAt: new Date(now + 60_000).toISOString() };
    expect((await api('/api/admin/flash-sales', { token: await mint(), body })).status).toBe(403);
    const backwards = await api('/api/admin/flash-sales', { token: adminToken, body: { ...body, endsAt: new Date(now - 60_000).toISOString() } });
    expect(backwards.status).toBe(400);
    expect(backwards.body.errors[0].field).toBe('endsAt');
    const ghost = await api('/api/admin/flash-sales', { token: adminToken, body: { ...body, productId: randomUUID() } });
    expect(ghost.body.errors).toEqual([{ field: 'productId', message: 'no such product' }]);
    expect((await api('/api/admin/flash-sales', { token: adminToken, body: { ...body, quantity: 0 } })).status).toBe(400);
    expect((await api(`/api/flash-sales/${randomUUID()}`)).status).toBe(404);
  });
});
