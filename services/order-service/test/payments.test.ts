import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Dapr } from '@flash/dapr';
import { REFUND_REQUESTED_TOPIC } from '@flash/events';
import { PAYMENT_BOOK_STORE, Payments, SimulatedPaymentProvider, TEST_TOKENS, type BookEntry } from '@flash/payments';
import { apiCall, waitUntil, type ApiRequest, type Json } from '@flash/stack';
import { ManualClock } from '../src/domain/clock';
import { basketHash } from '../src/domain/orders';
import { ORDER_LIFECYCLE_JOB } from '../src/service';
import { startTestStack, type TestStack } from '../../../test/support/stack';
import { tokenMinter } from '../../../test/support/tokens';

const DAY = 24 * 3600 * 1000;
const PRICE = 10_000;

describe('payments: checkout pays, cancel and return give the money back, each exactly once', () => {
  const clock = new ManualClock();
  let stack: TestStack;
  let mint: ReturnType<typeof tokenMinter>;
  let adminToken: string;
  let orderUrl: string;
  /** A sidecar of the test's own: publishes duplicate events. */
  let observer: Dapr;

  const api = (path: string, init?: ApiRequest) => apiCall(stack.edgeUrl, path, init);
  const post = (path: string, token: string, body?: unknown, headers?: Record<string, string>) =>
    api(path, { method: 'POST', token, ...(body !== undefined ? { body } : {}), ...(headers ? { headers } : {}) });
  /** One run of the order lifecycle job, after the test moved the clock (the job sleeps until the next step is due). */
  const schedulerRun = () => stack.runJob('order-service', ORDER_LIFECYCLE_JOB);
  const checkout = (token: string, productId: string, quantity: number, paymentToken?: string, key?: string) =>
    post('/api/orders', token, { items: [{ productId, quantity }], ...(paymentToken ? { paymentToken } : {}) }, key ? { 'idempotency-key': key } : undefined);
  const orderOf = async (token: string, id: string) => (await api(`/api/orders/${id}`, { token })).body;
  const stockOf = async (productId: string) => (await api(`/api/products/${productId}`)).body.stock as number;
  /** The simulated provider's book, read through order-service's sidecar (the book's store is scoped to purchase- and order-service). */
  const bookStore = () =>
    new Dapr({ httpPort: stack.service('order-service').sidecar.ports.http, apiToken: stack.run.apiToken }).state<BookEntry>(PAYMENT_BOOK_STORE);
  const book = async (chargeKey: string) => (await bookStore().get(`payment-${chargeKey}`))?.value;

  async function product(stock: number) {
    return (await api('/api/admin/products', { token: adminToken, body: { name: `Item ${randomUUID()}`, price: PRICE, stock } })).body.id as string;
  }

  /** A flash sale of `quantity` units, live for an hour, of a product of its own. */
  async function flashSale(quantity: number) {
    const now = Date.now();
    const res = await api('/api/admin/flash-sales', {
      token: adminToken,
      body: { productId: await product(0), quantity, startsAt: new Date(now - 1000).toISOString(), endsAt: new Date(now + 3_600_000).toISOString() },
    });
    expect(res.status).toBe(201);
    return res.body as { id: string };
  }

  async function shopper() {
    const userId = randomUUID();
    return { userId, token: await mint(userId) };
  }

  /** Waits until the order's refund is confirmed by the provider, and returns the order. */
  async function refunded(token: string, orderId: string): Promise<Json> {
    let order: Json;
    await waitUntil(`refund of ${orderId}`, async () => {
      order = await orderOf(token, orderId);
      return order.refund?.status === 'REFUNDED';
    }, 20_000, 100);
    return order;
  }

  /** The operator's check, after every story: once no refund is pending, charged − refunded = standing orders. */
  async function expectMoneyBalanced(query = ''): Promise<Json> {
    let check: Json;
    await waitUntil(`money invariant ${query}`, async () => {
      check = (await api(`/api/admin/payments/invariant${query}`, { token: adminToken })).body;
      return check.settled === true;
    }, 20_000, 100);
    expect(check).toMatchObject({ balanced: true, settled: true, mismatched: [], consistent: true });
    expect(check.charged - check.refunded).toBe(check.standing);
    return check;
  }

  beforeAll(async () => {
    const payments = { PAYMENT_LATENCY_MS: '5', PAYMENT_TIMEOUT_MS: '2500', PAYMENT_SEED: 'payments-test' };
    stack = await startTestStack(['user-service', 'product-service', 'purchase-service', 'order-service'], {
      'purchase-service': payments,
      // Half the refund attempts of charges made without a test token fail.
      'order-service': { ...payments, PAYMENT_REFUND_FAILURE_RATE: '0.5', REFUND_RETRY_BASE_MS: '200', REFUND_RETRY_MAX_MS: '1000' },
    }, { orderClock: clock });
    mint = tokenMinter(stack);
    orderUrl = stack.service('order-service').url;
    adminToken = (await api('/api/auth/login', { body: stack.admin })).body.accessToken;
    const sidecar = await stack.run.start(`${stack.run.id}-observer`);
    observer = new Dapr({ httpPort: sidecar.ports.http, topicPrefix: stack.run.id, apiToken: stack.run.apiToken });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('when a checkout is approved, then 201 PLACED with its payment, and a retry with the same Idempotency-Key gets the same order', async () => {
    const { userId, token } = await shopper();
    const productId = await product(10);
    const key = randomUUID();
    const placed = await checkout(token, productId, 3, TEST_TOKENS.approve, key);
    expect(placed.status).toBe(201);
    expect(placed.body).toMatchObject({ status: 'PLACED', total: 3 * PRICE, payment: { status: 'PAID', amount: 3 * PRICE }, refund: null });
    expect(placed.body.payment.reference).toEqual(expect.any(String));
    expect(await stockOf(productId)).toBe(7);

    const again = await checkout(token, productId, 3, TEST_TOKENS.approve, key);
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(placed.body.id);
    const otherBasket = await checkout(token, productId, 1, TEST_TOKENS.approve, key);
    expect(otherBasket.status).toBe(422);
    expect(otherBasket.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await api('/api/orders', { token })).body.items).toHaveLength(1);
    expect(await stockOf(productId)).toBe(7);
    expect(await book(placed.body.id)).toMatchObject({ status: 'CAPTURED', amount: 3 * PRICE });

    const money = await expectMoneyBalanced(`?userId=${userId}`);
    expect(money).toMatchObject({ charged: 3 * PRICE, refunded: 0, standing: 3 * PRICE });
  });

  it('when a checkout is declined, then 402 PAYMENT_FAILED, no order, the stock back, and a retry gets the same answer', async () => {
    const { userId, token } = await shopper();
    const productId = await product(5);
    const key = randomUUID();
    const declined = await checkout(token, productId, 2, TEST_TOKENS.decline, key);
    expect(declined.status).toBe(402);
    expect(declined.body.code).toBe('PAYMENT_FAILED');
    expect(await stockOf(productId)).toBe(5);
    const again = await checkout(token, productId, 2, TEST_TOKENS.approve, key);
    expect(again.status).toBe(402);
    expect((await api('/api/orders', { token })).body.items).toEqual([]);

    const money = await expectMoneyBalanced(`?userId=${userId}`);
    expect(money).toMatchObject({ charged: 0, refunded: 0, standing: 0 });
  });

  it('when the provider does not answer a checkout in time, then 504, no order, the stock back, and the charge that landed is refunded once', async () => {
    const { userId, token } = await shopper();
    const productId = await product(5);
    const key = randomUUID();
    const timedOut = await checkout(token, productId, 2, TEST_TOKENS.timeout, key);
    expect(timedOut.status).toBe(504);
    expect(timedOut.body.code).toBe('PAYMENT_TIMEOUT');
    expect(await stockOf(productId)).toBe(5);
    const again = await checkout(token, productId, 2, TEST_TOKENS.timeout, key);
    expect(again.status).toBe(504);
    expect((await api('/api/orders', { token })).body.items).toEqual([]);

    const money = await expectMoneyBalanced(`?userId=${userId}`);
    expect(money).toMatchObject({ charged: 2 * PRICE, refunded: 2 * PRICE, standing: 0 });
    expect(await stockOf(productId)).toBe(5);
  });

  it('when a paid checkout order is cancelled, then the stock comes back and the payment is refunded once, with its reference', async () => {
    const { userId, token } = await shopper();
    const productId = await product(10);
    const order = (await checkout(token, productId, 4, TEST_TOKENS.approve)).body;
    const cancelled = await post(`/api/orders/${order.id}/cancel`, token);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('CANCELLED');
    expect(cancelled.body.refund).toMatchObject({ amount: 4 * PRICE });
    expect(await stockOf(productId)).toBe(10);

    const done = await refunded(token, order.id);
    expect(done.refund).toMatchObject({ status: 'REFUNDED', amount: 4 * PRICE, reference: expect.any(String), at: expect.any(String) });
    expect((await book(order.id))?.refund).toMatchObject({ amount: 4 * PRICE, reference: done.refund.reference });
    const money = await expectMoneyBalanced(`?userId=${userId}`);
    expect(money).toMatchObject({ charged: 4 * PRICE, refunded: 4 * PRICE, standing: 0 });
  });

  it('when a paid flash order is cancelled, then its unit goes back to the sale and its price is refunded once', async () => {
    const { userId, token } = await shopper();
    const sale = await flashSale(3);
    const held = await post(`/api/flash-sales/${sale.id}/purchases`, token, undefined, { 'idempotency-key': randomUUID() });
    expect(held.status).toBe(201);
    const paid = await post(`/api/purchases/${held.body.purchaseId}/payment`, token, { paymentToken: TEST_TOKENS.approve });
    expect(paid.status).toBe(200);
    const orderId = paid.body.orderId as string;
    await waitUntil('the flash order', async () => (await api(`/api/orders/${orderId}`, { token })).status === 200, 10_000, 100);
    expect((await orderOf(token, orderId)).payment).toMatchObject({ status: 'PAID', amount: PRICE });

    const cancelled = await post(`/api/orders/${orderId}/cancel`, token);
    expect(cancelled.body.status).toBe('CANCELLED');
    const done = await refunded(token, orderId);
    expect(done.refund.amount).toBe(done.payment.amount);
    const invariant = (await api(`/api/admin/flash-sales/${sale.id}/invariant`, { token: adminToken })).body;
    expect(invariant).toMatchObject({ ledger: { available: 3, held: 0, sold: 0 }, consistent: true });
    await expectMoneyBalanced(`?saleId=${sale.id}`);
    await expectMoneyBalanced(`?userId=${userId}`);
  });

  it('when a flash payment times out, then 504, the unit goes back, and the charge that landed is refunded once', async () => {
    const { token } = await shopper();
    const sale = await flashSale(1);
    const held = await post(`/api/flash-sales/${sale.id}/purchases`, token, undefined, { 'idempotency-key': randomUUID() });
    const paying = await post(`/api/purchases/${held.body.purchaseId}/payment`, token, { paymentToken: TEST_TOKENS.timeout });
    expect(paying.status).toBe(504);
    expect(paying.body.code).toBe('PAYMENT_TIMEOUT');
    expect((await post(`/api/purchases/${held.body.purchaseId}/payment`, token, { paymentToken: TEST_TOKENS.approve })).status).toBe(409);
    expect((await api(`/api/flash-sales/${sale.id}`)).body.remaining).toBe(1);
    const money = await expectMoneyBalanced(`?saleId=${sale.id}`);
    expect(money).toMatchObject({ charged: money.refunded, standing: 0 });
    expect(money.refunded).toBeGreaterThan(0);
  });

  it('when a delivered order is returned, then the money comes back only once the return completes', async () => {
    const { userId, token } = await shopper();
    const productId = await product(5);
    const order = (await checkout(token, productId, 2, TEST_TOKENS.approve)).body;
    clock.advance(2 * DAY);
    await schedulerRun();
    expect((await orderOf(token, order.id)).status).toBe('DELIVERED');
    const [asked, askedAgain] = await Promise.all([post(`/api/orders/${order.id}/return`, token), post(`/api/orders/${order.id}/return`, token)]);
    expect([asked.status, askedAgain.status]).toEqual([200, 200]);
    expect(asked.body).toMatchObject({ status: 'RETURN_REQUESTED', refund: null });
    await sleep(500);
    expect((await orderOf(token, order.id)).refund).toBeNull();
    expect(await stockOf(productId)).toBe(3);

    clock.advance(DAY);
    await schedulerRun();
    const done = await refunded(token, order.id);
    expect(done).toMatchObject({ status: 'RETURNED', refund: { status: 'REFUNDED', amount: 2 * PRICE } });
    expect(await stockOf(productId)).toBe(5);
    const money = await expectMoneyBalanced(`?userId=${userId}`);
    expect(money).toMatchObject({ charged: 2 * PRICE, refunded: 2 * PRICE, standing: 0 });
  });

  it('when the provider fails refunds and then recovers, then the cancel answers at once and exactly one refund is made', async () => {
    const { userId, token } = await shopper();
    const productId = await product(5);
    const order = (await checkout(token, productId, 1, TEST_TOKENS.refundFlaky)).body;
    const cancelled = await post(`/api/orders/${order.id}/cancel`, token);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.refund).toMatchObject({ status: 'PENDING', reference: null, at: null });

    const done = await refunded(token, order.id);
    expect(done.refund).toMatchObject({ status: 'REFUNDED', amount: PRICE });
    // Two failures, then one refund whose answer was lost; the next attempt found it under its key.
    const entry = await book(order.id);
    expect(entry).toMatchObject({ refundAttempts: 3, refund: { key: `cancel-${order.id}`, amount: PRICE, reference: done.refund.reference } });
    await expectMoneyBalanced(`?userId=${userId}`);
  });

  it('when the provider fails half of all refund attempts, then every cancelled order is still refunded exactly once', async () => {
    const { userId, token } = await shopper();
    const productId = await product(20);
    const orders: Json[] = [];
    for (let i = 0; i < 8; i++) orders.push((await checkout(token, productId, 1)).body);
    const cancels = await Promise.all(orders.map((o) => post(`/api/orders/${o.id}/cancel`, token)));
    expect(cancels.map((c) => c.status)).toEqual(orders.map(() => 200));
    for (const order of orders) {
      const done = await refunded(token, order.id);
      expect((await book(order.id))?.refund).toEqual({ key: `cancel-${order.id}`, amount: PRICE, reference: done.refund.reference });
    }
    expect(await stockOf(productId)).toBe(20);
    const money = await expectMoneyBalanced(`?userId=${userId}`);
    expect(money).toMatchObject({ charged: 8 * PRICE, refunded: 8 * PRICE, standing: 0 });
  });

  it('when order-service stops after the provider refunded but before it recorded the refund, then on restart it is recorded once', async () => {
    const { userId, token } = await shopper();
    const productId = await product(5);
    const order = (await checkout(token, productId, 1, TEST_TOKENS.refundFlaky)).body;
    expect((await post(`/api/orders/${order.id}/cancel`, token)).status).toBe(200);
    // The third attempt refunds, and its answer never comes: stop the service while it waits for it.
    await waitUntil('the refund at the provider', async () => Boolean((await book(order.id))?.refund), 20_000, 50);
    const [record] = await stack.service('order-service').service.dataSource.query('SELECT refund_status AS status FROM payments WHERE id = ?', [order.id]);
    expect(record.status).toBe('PENDING');
    const restart = await stack.halt('order-service');
    expect((await fetch(`${orderUrl}/healthz`).catch(() => undefined))?.ok).not.toBe(true);

    await restart();
    const done = await refunded(token, order.id);
    expect((await book(order.id))).toMatchObject({ refundAttempts: 3, refund: { amount: PRICE, reference: done.refund.reference } });
    await expectMoneyBalanced(`?userId=${userId}`);
  });

  it('when a checkout died after charging and before recording it, then after its hold the charge is voided and its key answers 504', async () => {
    const { userId, token } = await shopper();
    const productId = await product(5);
    const key = randomUUID();
    const paymentId = randomUUID();
    // What a checkout process leaves when it dies mid-charge: its claimed key (PENDING), and a charge at the provider.
    await stack.service('order-service').service.dataSource.query(
      `INSERT INTO payments (id, user_id, source, idempotency_key, request_hash, amount, status, created_at)
       VALUES (?, ?, 'REGULAR', ?, ?, ?, 'PENDING', ?)`,
      [paymentId, userId, key, basketHash([{ productId, quantity: 1 }]), PRICE, clock.now()],
    );
    const provider = new Payments(new SimulatedPaymentProvider(bookStore(), {
      failureRate: 0, refundFailureRate: 0, timeoutRate: 0, latencyMs: 0, seed: 'crashed',
    }), { timeoutMs: 2500 });
    expect(await provider.charge({ key: paymentId, amount: PRICE, customerId: userId })).toMatchObject({ status: 'APPROVED' });

    const meanwhile = await checkout(token, productId, 1, TEST_TOKENS.approve, key);
    expect(meanwhile.status).toBe(409);
    expect(meanwhile.body.code).toBe('CHECKOUT_IN_PROGRESS');
    clock.advance(900_000 + 1000); // past the checkout hold (CHECKOUT_HOLD_SECONDS), when its stock is free again anyway
    await stack.runJob('order-service', 'abandoned checkouts');
    const money = await expectMoneyBalanced(`?userId=${userId}`);
    expect(money).toMatchObject({ charged: PRICE, refunded: PRICE, standing: 0 });
    const after = await checkout(token, productId, 1, TEST_TOKENS.approve, key);
    expect(after.status).toBe(504);
    expect(await stockOf(productId)).toBe(5);
  });

  it('when the refund request is delivered several times, then there is one refund', async () => {
    const { userId, token } = await shopper();
    const productId = await product(5);
    const order = (await checkout(token, productId, 2, TEST_TOKENS.approve)).body;
    expect((await post(`/api/orders/${order.id}/cancel`, token)).status).toBe(200);
    const request = {
      paymentId: order.id, refundKey: `cancel-${order.id}`, userId, saleId: null, amount: 2 * PRICE, charge: 'PAID', reason: 'order cancelled',
    };
    await Promise.all([observer.publish('pubsub', REFUND_REQUESTED_TOPIC, request), observer.publish('pubsub', REFUND_REQUESTED_TOPIC, request)]);
    const first = await refunded(token, order.id);
    await observer.publish('pubsub', REFUND_REQUESTED_TOPIC, request);
    await sleep(1000);
    const later = await orderOf(token, order.id);
    expect(later.refund).toEqual(first.refund);
    expect((await book(order.id))?.refund).toMatchObject({ key: `cancel-${order.id}`, amount: 2 * PRICE });
    const money = await expectMoneyBalanced(`?userId=${userId}`);
    expect(money).toMatchObject({ charged: 2 * PRICE, refunded: 2 * PRICE, standing: 0 });
  });

  it('when a cancel is sent twice at once, or races the shipping, then there is exactly one refund or a clear 409', async () => {
    const { userId, token } = await shopper();
    const productId = await product(10);
    const twice = (await checkout(token, productId, 1, TEST_TOKENS.approve)).body;
    const answers = await Promise.all([post(`/api/orders/${twice.id}/cancel`, token), post(`/api/orders/${twice.id}/cancel`, token)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect((await refunded(token, twice.id)).refund.amount).toBe(PRICE);

    const racing = (await checkout(token, productId, 1, TEST_TOKENS.approve)).body;
    clock.advance(DAY);
    const [cancel] = await Promise.all([post(`/api/orders/${racing.id}/cancel`, token), schedulerRun()]);
    const after = await orderOf(token, racing.id);
    if (cancel.status === 200) {
      expect(after.status).toBe('CANCELLED');
      expect((await refunded(token, racing.id)).refund.amount).toBe(PRICE);
    } else {
      expect(cancel.status).toBe(409);
      expect(cancel.body.code).toBe('ORDER_NOT_CANCELLABLE');
      expect(after).toMatchObject({ status: 'SHIPPING', refund: null });
    }
    await expectMoneyBalanced(`?userId=${userId}`);
  });

  it("when someone pays or cancels another shopper's purchase or order, then 404 and nothing moves", async () => {
    const owner = await shopper();
    const stranger = await shopper();
    const productId = await product(5);
    const order = (await checkout(owner.token, productId, 1, TEST_TOKENS.approve)).body;
    expect((await post(`/api/orders/${order.id}/cancel`, stranger.token)).status).toBe(404);
    const sale = await flashSale(1);
    const held = await post(`/api/flash-sales/${sale.id}/purchases`, owner.token, undefined, { 'idempotency-key': randomUUID() });
    expect((await post(`/api/purchases/${held.body.purchaseId}/payment`, stranger.token, { paymentToken: TEST_TOKENS.approve })).status).toBe(404);
    expect((await post(`/api/purchases/${held.body.purchaseId}/payment`, owner.token, { paymentToken: 'not a token' })).status).toBe(400);
    expect((await orderOf(owner.token, order.id)).status).toBe('PLACED');
    expect(await book(held.body.purchaseId)).toBeUndefined();
    await expectMoneyBalanced(`?userId=${stranger.userId}`);
  });

  it('when a shopper opens my page, then each order shows its payment and refund; and the whole shop balances', async () => {
    const email = `payer-${stack.run.id}@example.test`;
    const { accessToken: token } = await stack.signUp({ name: 'Lee Seoyeon', email, password: 'Pay1ng!pass', phone: '010-5555-6666', address: 'Incheon' });
    const productId = await product(5);
    const kept = (await checkout(token, productId, 1, TEST_TOKENS.approve)).body;
    const cancelled = (await checkout(token, productId, 2, TEST_TOKENS.approve)).body;
    await post(`/api/orders/${cancelled.id}/cancel`, token);
    await refunded(token, cancelled.id);

    const page = await api('/api/users/me/page', { token });
    expect(page.status).toBe(200);
    const shown = new Map<string, Json>(page.body.orders.map((o: Json) => [o.id, o]));
    expect(shown.get(kept.id)).toMatchObject({ payment: { status: 'PAID', amount: PRICE }, refund: null });
    expect(shown.get(cancelled.id)).toMatchObject({ payment: { status: 'PAID', amount: 2 * PRICE }, refund: { status: 'REFUNDED', amount: 2 * PRICE } });

    const money = await expectMoneyBalanced();
    expect(money.charged).toBeGreaterThan(money.refunded);
    expect(money.refunded).toBeGreaterThan(0);
    expect((await api('/api/admin/payments/invariant', { token })).status).toBe(403);
    expect((await api('/api/admin/payments/invariant?userId=nope', { token: adminToken })).status).toBe(400);
  });
});
