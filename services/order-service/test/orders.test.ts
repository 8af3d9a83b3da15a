import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Dapr } from '@flash/dapr';
import Redis from 'ioredis';
import { apiCall, redisUrl, type ApiRequest } from '@flash/stack';
import { ManualClock } from '../src/domain/clock';
import { ORDER_LIFECYCLE_JOB } from '../src/service';
import { startTestStack, type TestStack } from '../../../test/support/stack';
import { tokenMinter } from '../../../test/support/tokens';

const DAY = 24 * 3600 * 1000;

describe('orders: lifecycle, cancel and return with restock, wishlist, my page', () => {
  const clock = new ManualClock();
  let stack: TestStack;
  let mint: ReturnType<typeof tokenMinter>;
  let adminToken: string;
  let shopper: { token: string; email: string };
  let stranger: string;
  let publisher: Dapr;

  const api = (path: string, init?: ApiRequest) => apiCall(stack.edgeUrl, path, init);
  const post = (path: string, token: string, body: unknown = undefined) => api(path, { method: 'POST', token, ...(body ? { body } : {}) });
  /** One run of the order lifecycle job, after the test moved the clock (the job sleeps until the next step is due). */
  const schedulerRun = () => stack.runJob('order-service', ORDER_LIFECYCLE_JOB);

  async function product(stock: number) {
    const res = await api('/api/admin/products', { token: adminToken, body: { name: `Item ${randomUUID()}`, price: 10_000, stock } });
    return res.body.id as string;
  }
  const stockOf = async (productId: string) => (await api(`/api/products/${productId}`)).body.stock as number;

  async function waitFor<T>(what: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await what();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error('timed out');
      await sleep(100);
    }
  }

  beforeAll(async () => {
    stack = await startTestStack(['user-service', 'product-service', 'purchase-service', 'order-service'], {
      // The outbox relay's look for events other processes left: short here, so the test below waits little.
      'order-service': { JOBS_RECHECK_SECONDS: '1' },
    }, { orderClock: clock });
    mint = tokenMinter(stack);
    adminToken = (await api('/api/auth/login', { body: stack.admin })).body.accessToken;
    const email = `me-${stack.run.id}@example.test`;
    const { accessToken } = await stack.signUp({ name: 'Park Jiwoo', email, password: 'Sh0pper!pass', phone: '010-3333-4444', address: 'Busan' });
    shopper = { email, token: accessToken };
    stranger = await mint();
    const caller = await stack.run.start(`${stack.run.id}-publisher`);
    publisher = new Dapr({ httpPort: caller.ports.http, topicPrefix: stack.run.id, apiToken: stack.run.apiToken });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('when a flash purchase is paid, then the order ships, arrives, can be returned, and its unit goes back to the sale', async () => {
    const productId = await product(0);
    const now = Date.now();
    const sale = (await api('/api/admin/flash-sales', {
      token: adminToken,
      body: { productId, quantity: 2, startsAt: new Date(now - 1000).toISOString(), endsAt: new Date(now + 3_600_000).toISOString() },
    })).body;
    const held = await apiCall(stack.service('purchase-service').url, `/api/flash-sales/${sale.id}/purchases`, {
      method: 'POST', token: shopper.token, headers: { 'idempotency-key': 'story' },
    });
    const paid = await post(`/api/purchases/${held.body.purchaseId}/payment`, shopper.token);
    expect(paid.status).toBe(200);
    const orderId = paid.body.orderId as string;

    const placed = await waitFor(async () => {
      const res = await api(`/api/orders/${orderId}`, { token: shopper.token });
      return res.status === 200 ? res.body : undefined;
    });
    expect(placed).toMatchObject({ status: 'PLACED', source: 'FLASH', items: [{ productId, quantity: 1, saleId: sale.id }] });

    clock.advance(DAY);
    await schedulerRun();
    expect((await api(`/api/orders/${orderId}`, { token: shopper.token })).body.status).toBe('SHIPPING');
    expect((await post(`/api/orders/${orderId}/cancel`, shopper.token)).status).toBe(409);

    clock.advance(DAY);
    await schedulerRun();
    const delivered = (await api(`/api/orders/${orderId}`, { token: shopper.token })).body;
    expect(delivered.status).toBe('DELIVERED');
    expect(delivered.transitions.map((t: { to: string }) => t.to)).toEqual(['PLACED', 'SHIPPING', 'DELIVERED']);

    clock.advance(DAY / 2);
    expect((await post(`/api/orders/${orderId}/return`, shopper.token)).body.status).toBe('RETURN_REQUESTED');
    clock.advance(DAY);
    await schedulerRun();
    expect((await api(`/api/orders/${orderId}`, { token: shopper.token })).body.status).toBe('RETURNED');

    const invariant = (await api(`/api/admin/flash-sales/${sale.id}/invariant`, { token: adminToken })).body;
    expect(invariant).toMatchObject({ ledger: { available: 2, held: 0, sold: 0 }, ledgerBalances: true, consistent: true });
    expect(invariant.purchases).toMatchObject({ paid: 0, restocked: 1 });
  });

  it('when a regular order is cancelled before shipping, then exactly its quantity goes back; after shipping, 409', async () => {
    const productId = await product(10);
    const order = await post('/api/orders', shopper.token, { items: [{ productId, quantity: 3 }] });
    expect(order.status).toBe(201);
    expect(await stockOf(productId)).toBe(7);
    const cancelled = await post(`/api/orders/${order.body.id}/cancel`, shopper.token);
    expect(cancelled.body.status).toBe('CANCELLED');
    expect(await stockOf(productId)).toBe(10);
    expect((await post(`/api/orders/${order.body.id}/cancel`, shopper.token)).body.status).toBe('CANCELLED');
    expect(await stockOf(productId)).toBe(10);

    const shipped = await post('/api/orders', shopper.token, { items: [{ productId, quantity: 2 }] });
    clock.advance(DAY);
    await schedulerRun();
    const late = await post(`/api/orders/${shipped.body.id}/cancel`, shopper.token);
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('ORDER_NOT_CANCELLABLE');
    expect(await stockOf(productId)).toBe(8);
  });

  it('when one shopper keeps checking out, then past CHECKOUTS_PER_USER a minute the answer is 429 with Retry-After and nothing is reserved', async () => {
    const productId = await product(100);
    const { accessToken } = await stack.signUp({
      name: 'Hoarder', email: `hoarder-${stack.run.id}@example.test`, password: 'Sh0pper!pass', phone: '010-5555-6666', address: 'Incheon',
    });
    const answers = [];
    for (let i = 0; i < 21; i++) answers.push(await post('/api/orders', accessToken, { items: [{ productId, quantity: 1 }] }));
    expect(answers.slice(0, 20).every((a) => [201, 402, 504].includes(a.status))).toBe(true);
    const throttled = answers[20]!;
    expect(throttled.status).toBe(429);
    expect(throttled.body.code).toBe('TOO_MANY_CHECKOUTS');
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const placed = answers.filter((a) => a.status === 201).length;
    expect(await stockOf(productId)).toBe(100 - placed);
  });

  it('when a return is asked more than a day after delivery, then 409', async () => {
    const productId = await product(5);
    const order = await post('/api/orders', shopper.token, { items: [{ productId, quantity: 1 }] });
    clock.advance(2 * DAY);
    await schedulerRun();
    expect((await api(`/api/orders/${order.body.id}`, { token: shopper.token })).body.status).toBe('DELIVERED');
    clock.advance(DAY + 60_000);
    const late = await post(`/api/orders/${order.body.id}/return`, shopper.token);
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('RETURN_NOT_ALLOWED');
  });

  it('when a checkout is short on one item, then 409 INSUFFICIENT_STOCK, no order, and nothing stays reserved', async () => {
    const plenty = await product(10);
    const scarce = await product(1);
    const before = (await api('/api/orders', { token: shopper.token })).body.items.length;
    const res = await post('/api/orders', shopper.token, { items: [{ productId: plenty, quantity: 4 }, { productId: scarce, quantity: 2 }] });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('INSUFFICIENT_STOCK');
    expect((await api('/api/orders', { token: shopper.token })).body.items).toHaveLength(before);
    expect(await stockOf(plenty)).toBe(10);
    expect(await stockOf(scarce)).toBe(1);
  });

  /** A real flash purchase of a new product's one-unit sale, held and paid by a buyer of its own. */
  async function paidFlashPurchase() {
    const productId = await product(0);
    const buyerId = randomUUID();
    const token = await mint(buyerId);
    const now = Date.now();
    const sale = (await api('/api/admin/flash-sales', {
      token: adminToken,
      body: { productId, quantity: 2, startsAt: new Date(now - 1000).toISOString(), endsAt: new Date(now + 3_600_000).toISOString() },
    })).body;
    const buy = () => apiCall(stack.service('purchase-service').url, `/api/flash-sales/${sale.id}/purchases`, {
      method: 'POST', token, headers: { 'idempotency-key': randomUUID() },
    });
    const held = (await buy()).body;
    const paid = (await post(`/api/purchases/${held.purchaseId}/payment`, token)).body;
    const event = {
      orderId: paid.orderId, purchaseId: paid.purchaseId, saleId: sale.id, productId, buyerId, quantity: 1, price: paid.price,
      paidAt: new Date().toISOString(),
    };
    return { event, token, unpaid: (await buy()).body };
  }

  const ordersWithId = (id: string) => stack.service('order-service').service.dataSource.query('SELECT id FROM orders WHERE id = ?', [id]);
  const deadLetters = async () => {
    const [host, port] = redisUrl().split(':');
    const redis = new Redis({ host, port: Number(port), password: process.env.REDIS_PASSWORD || undefined });
    try {
      return await redis.xlen(`${stack.run.id}-purchase-paid-dead`);
    } finally {
      redis.disconnect();
    }
  };

  it('when the same PAID event is delivered again and twice at once, then there is one order', async () => {
    const { event } = await paidFlashPurchase();
    await waitFor(async () => ((await ordersWithId(event.orderId)).length ? true : undefined));
    await Promise.all([publisher.publish('pubsub', 'purchase-paid', event), publisher.publish('pubsub', 'purchase-paid', event)]);
    await sleep(1000);
    expect(await ordersWithId(event.orderId)).toHaveLength(1);
    expect(await stack.service('order-service').service.dataSource.query('SELECT id FROM order_items WHERE order_id = ?', [event.orderId])).toHaveLength(1);
  });

  it('when a purchase-paid event is forged (a purchase not paid, other details, or a malformed payload), then no order and it is dead-lettered', async () => {
    const { event, unpaid } = await paidFlashPurchase();
    const before = await deadLetters();
    const forged = [
      { ...event, purchaseId: unpaid.purchaseId, orderId: unpaid.purchaseId },
      { ...event, orderId: randomUUID(), purchaseId: randomUUID() },
      { ...event, orderId: randomUUID(), buyerId: randomUUID() },
      { ...event, orderId: randomUUID(), price: 0 },
      { ...event, orderId: randomUUID(), quantity: 9999 },
      { ...event, orderId: 'not-a-uuid', price: 'free' },
    ];
    for (const e of forged) await publisher.publish('pubsub', 'purchase-paid', e);
    await waitFor(async () => ((await deadLetters()) - before >= forged.length ? true : undefined), 15_000);
    for (const e of forged) expect(await ordersWithId(String(e.orderId))).toHaveLength(0);
  });

  it('when replicas run the scheduler at once, then each order moves once', async () => {
    const productId = await product(20);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await post('/api/orders', shopper.token, { items: [{ productId, quantity: 1 }] })).body.id);
    clock.advance(DAY);
    const replica = () => stack.runJobAsReplica('order-service', ORDER_LIFECYCLE_JOB);
    await Promise.all([schedulerRun(), replica(), replica()]);
    for (const id of ids) {
      const transitions = (await api(`/api/orders/${id}`, { token: shopper.token })).body.transitions.map((t: { to: string }) => t.to);
      expect(transitions).toEqual(['PLACED', 'SHIPPING']);
    }
  });

  it('when a process wrote an event and died before publishing it, then the relay publishes it at its next re-check', async () => {
    const { dataSource } = stack.service('order-service').service;
    const event = { orderId: randomUUID(), userId: randomUUID(), from: 'PLACED', to: 'SHIPPING', at: new Date().toISOString() };
    // Written behind the running relay's back (nobody in this process announces it), as a dead replica leaves it.
    const { insertId } = await dataSource.query("INSERT INTO outbox (topic, payload) VALUES ('order-status-changed', ?)", [JSON.stringify(event)]);
    const publishedAt = await waitFor(async () => {
      const [row] = await dataSource.query('SELECT published_at AS at FROM outbox WHERE id = ?', [insertId]);
      return (row.at as Date | null) ?? undefined;
    }, 5000);
    expect(publishedAt).toBeInstanceOf(Date);
  });

  it('when someone else asks for my order or wishlist item, then 404', async () => {
    const productId = await product(5);
    const order = await post('/api/orders', shopper.token, { items: [{ productId, quantity: 1 }] });
    const item = await post('/api/wishlist', shopper.token, { productId, quantity: 1 });
    expect((await api(`/api/orders/${order.body.id}`, { token: stranger })).status).toBe(404);
    expect((await post(`/api/orders/${order.body.id}/cancel`, stranger)).status).toBe(404);
    expect((await post(`/api/orders/${order.body.id}/return`, stranger)).status).toBe(404);
    expect((await api(`/api/wishlist/${item.body.itemId}`, { method: 'PATCH', token: stranger, body: { quantity: 9 } })).status).toBe(404);
    expect((await api(`/api/wishlist/${item.body.itemId}`, { method: 'DELETE', token: stranger })).status).toBe(404);
    expect((await post(`/api/wishlist/${item.body.itemId}/order`, stranger)).status).toBe(404);
    expect((await api('/api/orders', { token: stranger })).body.items).toEqual([]);
    expect((await api(`/api/orders/${order.body.id}`, { token: shopper.token })).body.status).toBe('PLACED');
  });

  it('when a shopper keeps a wishlist and orders from it, then the order is placed and the item leaves the list', async () => {
    const productId = await product(5);
    expect((await post('/api/wishlist', shopper.token, { productId: randomUUID(), quantity: 1 })).status).toBe(400);
    expect((await post('/api/wishlist', shopper.token, { productId, quantity: 0 })).status).toBe(400);
    const added = await post('/api/wishlist', shopper.token, { productId, quantity: 1 });
    expect(added.status).toBe(201);
    expect((await post('/api/wishlist', shopper.token, { productId, quantity: 1 })).body.quantity).toBe(2);
    const changed = await api(`/api/wishlist/${added.body.itemId}`, { method: 'PATCH', token: shopper.token, body: { quantity: 3 } });
    expect(changed.body.quantity).toBe(3);

    const ordered = await post(`/api/wishlist/${added.body.itemId}/order`, shopper.token);
    expect(ordered.status).toBe(201);
    expect(ordered.body.items).toEqual([expect.objectContaining({ productId, quantity: 3 })]);
    expect(await stockOf(productId)).toBe(2);
    expect((await api('/api/wishlist', { token: shopper.token })).body.items.map((i: { productId: string }) => i.productId)).not.toContain(productId);

    const other = await post('/api/wishlist', shopper.token, { productId, quantity: 1 });
    expect((await api(`/api/wishlist/${other.body.itemId}`, { method: 'DELETE', token: shopper.token })).status).toBe(204);
  });

  it('when a shopper adds the same product again and again, also 20 at once, then the item never holds more than 100 units', async () => {
    const productId = await product(5);
    for (let i = 0; i < 3; i++) expect((await post('/api/wishlist', shopper.token, { productId, quantity: 40 })).status).toBe(201);
    expect((await api('/api/wishlist', { token: shopper.token })).body.items.find((i: { productId: string }) => i.productId === productId).quantity).toBe(100);
    const other = await product(5);
    const burst = await Promise.all(Array.from({ length: 20 }, () => post('/api/wishlist', shopper.token, { productId: other, quantity: 9 })));
    expect(burst.map((r) => r.status)).toEqual(Array(20).fill(201));
    const items = (await api('/api/wishlist', { token: shopper.token })).body.items.filter((i: { productId: string }) => i.productId === other);
    expect(items.map((i: { quantity: number }) => i.quantity)).toEqual([100]);
    expect((await post('/api/wishlist', shopper.token, { productId, quantity: 101 })).status).toBe(400);
    for (const item of (await api('/api/wishlist', { token: shopper.token })).body.items) {
      await api(`/api/wishlist/${item.itemId}`, { method: 'DELETE', token: shopper.token });
    }
  });

  it('when a shopper opens my page, then their profile, orders and wishlist come together', async () => {
    const productId = await product(5);
    await post('/api/wishlist', shopper.token, { productId, quantity: 2 });
    const page = await api('/api/users/me/page', { token: shopper.token });
    expect(page.status).toBe(200);
    expect(page.body.profile).toMatchObject({ email: shopper.email, name: 'Park Jiwoo' });
    expect(page.body.orders.length).toBeGreaterThan(0);
    expect(page.body.wishlist).toEqual(expect.arrayContaining([expect.objectContaining({ productId, quantity: 2 })]));
  });
});
