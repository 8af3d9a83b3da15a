import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '@flash/http';
import { Dapr, SidecarError } from '@flash/dapr';
import { apiCall, deleteRedisKeys, stateKeyPrefix, waitUntil, type ApiRequest } from '@flash/stack';
import { ShardedCounter, type ShardValue } from '@flash/stock';
import { startTestStack, type TestStack } from '../../../test/support/stack';

const SHARDS = 8;

describe('stock: reservations through Dapr invocation, a sharded counter in Redis, a ledger in MySQL', () => {
  let stack: TestStack;
  let dapr: Dapr;
  let adminToken: string;
  let seq = 0;

  const api = (path: string, init?: ApiRequest) => apiCall(stack.edgeUrl, path, init);

  /** What another service sees when it calls product-service through its own sidecar. */
  const invoke = async (path: string, body?: unknown) => {
    try {
      return { status: 200, body: await dapr.invoke<any>('product-service', path, body === undefined ? {} : { method: 'POST', body }) };
    } catch (err) {
      if (err instanceof AppError) return { status: err.status, body: { code: err.code, detail: err.detail } };
      throw err;
    }
  };
  const reserve = (productId: string, reservationId: string, quantity = 1, holdSeconds?: number) =>
    invoke('internal/stock/reservations', { productId, quantity, reservationId, ...(holdSeconds ? { holdSeconds } : {}) });
  // No app may read stock levels through Dapr (dapr/access-control.json): the test asks product-service as its sidecar would.
  const levels = async (productId: string) =>
    (await fetch(`${stack.service('product-service').url}/internal/stock/${productId}`, { headers: { 'dapr-api-token': stack.run.appToken } })).json() as Promise<any>;
  const ledger = async (productId: string) => {
    const [row] = await stack.service('product-service').service.dataSource.query(
      'SELECT SUM(available_delta) AS available, SUM(sold_delta) AS sold, COUNT(*) AS movements FROM stock_movements WHERE stock_id = ?',
      [productId],
    );
    return { available: Number(row.available), sold: Number(row.sold), movements: Number(row.movements) };
  };
  const shards = async (productId: string) => {
    // The counter is product-service's own state (its sidecar's key prefix): read it as product-service.
    const counter = new ShardedCounter(stack.service('product-service').service.dapr.state<ShardValue>('statestore'), { shards: SHARDS, prefix: 'stock' });
    return (await counter.read(productId)).shards;
  };

  async function product(stock: number): Promise<string> {
    const res = await api('/api/admin/products', { token: adminToken, body: { name: `Item ${++seq} ${stack.run.id}`, price: 1000, stock } });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  beforeAll(async () => {
    stack = await startTestStack(['user-service', 'product-service'], {
      'product-service': { STOCK_SHARDS: String(SHARDS), STOCK_ORPHAN_AFTER_SECONDS: '1' },
    });
    // It plays order-service, the one app the access-control policy lets reserve stock (order-service is not in this stack).
    const caller = await stack.run.start('order-service');
    dapr = new Dapr({ httpPort: caller.ports.http, timeoutMs: 30_000, apiToken: stack.run.apiToken });
    adminToken = (await api('/api/auth/login', { body: stack.admin })).body.accessToken;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('when 500 callers reserve a product with 100 units at once, then exactly 100 succeed and stock ends at 0', async () => {
    const productId = await product(100);
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => reserve(productId, `crowd-${i}`)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    expect(results.filter((r) => r.status === 409).every((r) => r.body.code === 'INSUFFICIENT_STOCK')).toBe(true);
    expect(statuses.filter((s) => s === 409)).toHaveLength(400);

    expect(await levels(productId)).toEqual({ productId, available: 0, reserved: 100, sold: 0 });
    expect((await ledger(productId)).available).toBe(0);
    const counter = await shards(productId);
    expect(counter.every((s) => s.available >= 0)).toBe(true);
    expect(counter.reduce((n, s) => n + s.available, 0)).toBe(0);
    expect((await api(`/api/products/${productId}`)).body.stock).toBe(0);

    const metrics = await (await fetch(`${stack.service('product-service').url}/metrics`)).text();
    expect(metrics).toMatch(/stock_reservations_total\{outcome="reserved",service="product-service"\} 100\n/);
    // At least one refusal per refused caller: on a loaded machine Dapr's resiliency policy retries a call that ran past
    // its timeout, and product-service counts the refused retry too (the caller still sees one answer, checked above).
    const refused = Number(/stock_reservations_total\{outcome="INSUFFICIENT_STOCK",service="product-service"\} (\d+)\n/.exec(metrics)?.[1]);
    expect(refused).toBeGreaterThanOrEqual(400);
  });

  it('when one reservation id is retried 10 times, then stock moves once and every answer is the same reservation', async () => {
    const productId = await product(10);
    const answers = await Promise.all(Array.from({ length: 5 }, () => reserve(productId, 'retried', 2)));
    for (let i = 0; i < 5; i++) answers.push(await reserve(productId, 'retried', 2));
    expect(answers.map((a) => a.status === 200 ? 'ok' : JSON.stringify(a.body))).toEqual(Array(10).fill('ok'));
    expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);
    expect(await levels(productId)).toMatchObject({ available: 8, reserved: 2 });
    expect((await ledger(productId)).available).toBe(8);

    const reused = await reserve(productId, 'retried', 3);
    expect(reused.body.code).toBe('RESERVATION_CONFLICT');
  });

  it('when reservations are committed or released, repeatedly, then units are sold or returned exactly once', async () => {
    const productId = await product(10);
    await reserve(productId, 'sold-one', 3);
    await reserve(productId, 'returned-one', 4);
    for (let i = 0; i < 3; i++) {
      expect((await invoke('internal/stock/reservations/sold-one/commit', {})).body.status).toBe('COMMITTED');
      expect((await invoke('internal/stock/reservations/returned-one/release', {})).body.status).toBe('RELEASED');
    }
    await sleep(400);
    expect(await levels(productId)).toEqual({ productId, available: 7, reserved: 0, sold: 3 });
    expect(await ledger(productId)).toMatchObject({ available: 7, sold: 3 });
    expect((await invoke('internal/stock/reservations/sold-one/release', {})).body.code).toBe('RESERVATION_COMMITTED');
    expect((await invoke('internal/stock/reservations/returned-one/commit', {})).body.code).toBe('RESERVATION_RELEASED');
    expect((await invoke('internal/stock/reservations/nobody/commit', {})).status).toBe(404);
  });

  it('when a hold expires, then its units come back exactly once and it can no longer be committed', async () => {
    const productId = await product(5);
    expect((await reserve(productId, 'short-hold', 2, 1)).status).toBe(200);
    expect((await levels(productId)).available).toBe(3);
    // The expiry job runs when the hold's second is up.
    await waitUntil('the expired hold is back', async () => (await levels(productId)).reserved === 0, 10_000, 100);
    expect(await levels(productId)).toMatchObject({ available: 5, reserved: 0 });
    expect((await invoke('internal/stock/reservations/short-hold/release', {})).body.status).toBe('EXPIRED');
    await sleep(700);
    expect((await levels(productId)).available).toBe(5);
    expect((await ledger(productId)).available).toBe(5);
    expect((await invoke('internal/stock/reservations/short-hold/commit', {})).body.code).toBe('RESERVATION_RELEASED');
  });

  it('when Redis loses the counters, then they are rebuilt from the ledger without reopening sold units', async () => {
    const productId = await product(50);
    await reserve(productId, 'kept', 10);
    await reserve(productId, 'bought', 4);
    await invoke('internal/stock/reservations/bought/commit', {});
    await reserve(productId, 'given-back', 3);
    await invoke('internal/stock/reservations/given-back/release', {});
    expect((await levels(productId)).available).toBe(36);

    expect(await deleteRedisKeys(`${stateKeyPrefix(stack.run.id, 'product-service')}||stock-${productId}-*`)).toBe(SHARDS);
    expect(await levels(productId)).toEqual({ productId, available: 36, reserved: 10, sold: 4 });
    expect((await reserve(productId, 'after-rebuild', 36)).status).toBe(200);
    expect((await reserve(productId, 'one-too-many', 1)).body.code).toBe('INSUFFICIENT_STOCK');
    // What an operator sees: the rebuild is counted apart from a new stock's first counter.
    const metrics = await (await fetch(`${stack.service('product-service').url}/metrics`)).text();
    expect(Number(/^stock_counter_rebuilds_total\{reason="rebuilt"[^}]*\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^stock_counter_rebuilds_total\{reason="new"[^}]*\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
  });

  it('when a write that raced the loss of the counter brings an old shard back, then the counter is rebuilt and sells on instead of refusing every take', async () => {
    const productId = await product(20);
    expect((await reserve(productId, 'before-loss', 4)).status).toBe(200);
    const state = stack.service('product-service').service.dapr.state<ShardValue>('statestore');
    const counter = new ShardedCounter(state, { shards: SHARDS, prefix: 'stock' });
    const keys = counter.keys(productId);
    const beforeLoss = await state.getMany(keys);
    // The racing write: it read a shard before the loss and saves it with that ETag after, onto a key gone again.
    const bringBack = async (shards: number[]) => {
      for (const i of shards) {
        await deleteRedisKeys(`${stateKeyPrefix(stack.run.id, 'product-service')}||${keys[i]}`);
        const { value, etag } = beforeLoss.get(keys[i]!)!;
        await state.save(keys[i]!, value, etag);
      }
    };
    const loseAndRebuild = async (free: number) => {
      await deleteRedisKeys(`${stateKeyPrefix(stack.run.id, 'product-service')}||stock-${productId}-*`);
      expect((await levels(productId)).available).toBe(free);
    };

    // One shard of the generation before the rebuild among the new ones: a torn counter, rebuilt at once.
    await loseAndRebuild(16);
    await bringBack([0]);
    const torn = await reserve(productId, 'torn', 1);
    expect(torn).toMatchObject({ status: 200 });
    // Every shard back from before the rebuild: whole, but older than the ledger. The take that finds out is refused
    // (503, retry) and the counter rebuilt; its retry is held.
    await loseAndRebuild(15);
    await bringBack(keys.map((_, i) => i));
    const first = await reserve(productId, 'old-generation', 1);
    if (first.status !== 200) expect(first).toMatchObject({ status: 503 });
    expect(await reserve(productId, 'old-generation', 1)).toMatchObject({ status: 200 });
    expect(await levels(productId)).toEqual({ productId, available: 14, reserved: 6, sold: 0 });
    expect((await ledger(productId)).available).toBe(14);
  });

  it('when a request dies between taking units and recording them, then once the service sees the entry it gives the units back', async () => {
    const productId = await product(6);
    const counter = new ShardedCounter(stack.service('product-service').service.dapr.state<ShardValue>('statestore'), { shards: SHARDS, prefix: 'stock' });
    // What a request that died right after the counter write leaves behind: units gone, nothing in the ledger.
    expect(await counter.take(productId, 'r:crashed:0001', 4)).toBeDefined();
    // Reading the levels reads the counter: product-service now knows the entry, and settles it once it is 1 s old
    // (its orphan job runs then; on a loaded machine that run can finish later than a fixed sleep, so wait for it).
    expect((await levels(productId)).available).toBe(2);
    await waitUntil('the orphaned units are back', async () => (await shards(productId)).every((s) => Object.keys(s.ops).length === 0), 10_000, 100);
    expect((await levels(productId)).available).toBe(6);
    expect((await ledger(productId)).available).toBe(6);
  });

  it("when a take's write dies with its sidecar, then its units come back as soon as the sidecar answers again", async () => {
    const productId = await product(6);
    const state = stack.service('product-service').service.dapr.state<ShardValue>('statestore');
    // The sidecar dies after Redis applied the take's write, before its answer came back, and is away for 500 ms.
    let downUntil = 0;
    const down = () => Date.now() < downUntil;
    const failing = new Proxy(state, {
      get: (target, key) => {
        const method = Reflect.get(target, key) as (...args: unknown[]) => Promise<unknown>;
        if (typeof method !== 'function') return method;
        return async (...args: unknown[]) => {
          if (down()) throw new SidecarError(String(key), 500, 'connection refused');
          const result = await method.apply(target, args);
          if (key === 'save' && !downUntil) {
            downUntil = Date.now() + 500;
            throw new SidecarError('save', 500, 'connection reset');
          }
          return result;
        };
      },
    });
    const counter = new ShardedCounter(failing, { shards: SHARDS, prefix: 'stock' });
    await expect(counter.takeUpTo(productId, 'r:lost-answer:0001', 4)).rejects.toBeInstanceOf(SidecarError);
    const taken = await counter.read(productId).catch(() => undefined);
    expect(taken).toBeUndefined(); // still away
    // No process knows of the entry but the take's own undo: without it the units would stay gone.
    await waitUntil('the units are back', async () => {
      const { available, shards: values } = await new ShardedCounter(state, { shards: SHARDS, prefix: 'stock' }).read(productId);
      return available === 6 && values.every((v) => Object.keys(v.ops).length === 0);
    }, 5_000, 50);
    expect((await ledger(productId)).available).toBe(6);
  });

  it('when a process dies between taking units and recording them, then the service started again gives the units back', async () => {
    const productId = await product(6);
    // The dead process's own counter: the running product-service never reads or writes what it took.
    const counter = new ShardedCounter(stack.service('product-service').service.dapr.state<ShardValue>('statestore'), { shards: SHARDS, prefix: 'stock' });
    expect(await counter.take(productId, 'r:died:0001', 4)).toBeDefined();
    const restart = await stack.halt('product-service');
    await restart();
    // Its start-up reads every counter once: the entry is settled when it is 1 s old, without anyone asking for the product.
    await waitUntil('the orphaned units are back', async () => {
      const { available, shards: values } = await counter.read(productId);
      return available === 6 && values.every((v) => Object.keys(v.ops).length === 0);
    }, 10_000, 100);
    expect((await ledger(productId)).available).toBe(6);
    expect((await levels(productId)).available).toBe(6);
  });

  it('when nothing is due, then the stock jobs sleep: at most one re-check in a few idle seconds, whatever the ledger holds', async () => {
    const productId = await product(50);
    for (let i = 0; i < 20; i++) await reserve(productId, `idle-${i}`, 1, 3600);
    await sleep(500);
    const { dataSource } = stack.service('product-service').service;
    const logger = dataSource.logger;
    let statements = 0;
    // TypeORM hands every statement it runs to the data source's logger: count them for a while.
    dataSource.logger = new Proxy(logger, {
      get: (target, key) => (key === 'logQuery' ? () => void statements++ : Reflect.get(target, key)),
    });
    try {
      await sleep(3000);
    } finally {
      dataSource.logger = logger;
    }
    // One re-check (every JOBS_RECHECK_SECONDS, 10) asks for the next due reservation and give in one statement, and
    // a run that finds nothing due asks two more (the old sweeper ran every few hundred ms).
    expect(statements).toBeLessThanOrEqual(3);
  });

  it('when an admin sets the stock, then that many units are free to sell, held units aside', async () => {
    const productId = await product(10);
    await reserve(productId, 'held-while-set', 4);
    const set = await api(`/api/admin/products/${productId}/stock`, { method: 'PUT', token: adminToken, body: { quantity: 20 } });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ available: 20, reserved: 4 });
    const lower = await api(`/api/admin/products/${productId}/stock`, { method: 'PUT', token: adminToken, body: { quantity: 5 } });
    expect(lower.body.available).toBe(5);
    expect((await ledger(productId)).available).toBe(5);
  });

  it('when a customer sets stock or input is bad, then 403 or a 400 problem, and nothing moves', async () => {
    const productId = await product(3);
    const email = `c-${stack.run.id}@example.test`;
    const customer = (await stack.signUp({ name: 'C', email, password: 'Cust0mer!', phone: '010-1111-2222', address: 'Seoul' })).accessToken;
    expect((await api(`/api/admin/products/${productId}/stock`, { method: 'PUT', token: customer, body: { quantity: 99 } })).status).toBe(403);

    expect((await api(`/api/admin/products/${productId}/stock`, { method: 'PUT', token: adminToken, body: { quantity: -1 } })).status).toBe(400);
    expect((await reserve(productId, 'zero', 0)).status).toBe(400);
    expect((await reserve(productId, 'bad id with spaces', 1)).status).toBe(400);
    expect((await reserve('00000000-0000-4000-8000-000000000000', 'ghost', 1)).status).toBe(404);
    expect(await levels(productId)).toMatchObject({ available: 3, reserved: 0 });
  });
});
