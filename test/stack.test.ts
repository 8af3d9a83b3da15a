import { randomUUID } from 'node:crypto';
import mysql from 'mysql2/promise';
import { Dapr, SidecarError } from '@flash/dapr';
import { documentedRoutes, listRoutes, type OpenApiDocument } from '@flash/http';
import { REVOKED_SESSIONS_KEY } from '@flash/auth';
import { ShardedCounter, type ShardValue } from '@flash/stock';
import { apiCall, waitUntil } from '@flash/stack';
import { UserEntity } from '../services/user-service/src/data/user.entity';
import { DOCUMENT_CACHE_MS } from '../services/product-service/src/domain/api-document';
import { SERVICES, startTestStack, type TestStack } from './support/stack';
import { tokenMinter } from './support/tokens';

describe('the four services behind the edge, each with its own daprd', () => {
  let stack: TestStack;
  let edgeUrl: string;
  const started = (name: (typeof SERVICES)[number]) => stack.service(name);

  beforeAll(async () => {
    stack = await startTestStack(SERVICES);
    edgeUrl = stack.edgeUrl;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  /** A product of its own for a test, created by the admin through the edge. */
  async function newProduct(name: string, stock: number): Promise<{ id: string }> {
    const admin = (await apiCall(edgeUrl, '/api/auth/login', { body: stack.admin })).body.accessToken;
    return (await apiCall(edgeUrl, '/api/admin/products', { token: admin, body: { name: `${name} ${stack.run.id}`, price: 1000, stock } })).body;
  }

  it('when each service is asked if it is ready, then its database and sidecar checks pass', async () => {
    for (const name of SERVICES) {
      const res = await fetch(`http://127.0.0.1:${started(name).running.port}/readyz`);
      expect({ name, status: res.status, body: await res.json() }).toEqual({
        name, status: 200, body: { status: 'ready', checks: { database: 'ok', sidecar: 'ok' } },
      });
    }
  });

  it('when the API document is requested through the edge, then product-service returns every service’s document, fetched through Dapr', async () => {
    const res = await fetch(`${edgeUrl}/api/docs/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as OpenApiDocument & { 'x-sources': string[]; 'x-unavailable'?: string[] };
    expect(doc['x-sources']).toEqual([...SERVICES]);
    expect(doc['x-unavailable']).toBeUndefined();
    // Every public route of every service is in it; internal, event and Dapr routes are not (test/api-docs.test.ts).
    for (const name of SERVICES) {
      for (const route of documentedRoutes(started(name).service.built.document)) {
        if (route.split(' ')[1]!.startsWith('/api/')) expect(documentedRoutes(doc)).toContain(route);
        else expect(documentedRoutes(doc)).not.toContain(route);
      }
    }
  });

  it('when the public document is asked for again and again, then it is built once and the services are not asked again', async () => {
    const served = async () => {
      const text = await (await fetch(`http://127.0.0.1:${started('user-service').running.port}/metrics`)).text();
      return Number(/http_request_duration_seconds_count\{[^}]*route="\/openapi.json"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const before = await served();
    expect(before).toBeGreaterThanOrEqual(1); // built for the test above, through Dapr
    const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${edgeUrl}/api/docs/openapi.json`)));
    expect(answers.every((a) => a.status === 200 && a.headers.get('cache-control') === 'public, max-age=5')).toBe(true);
    expect((await served()) - before).toBeLessThanOrEqual(1);
  });

  it('when a service has a route, then its OpenAPI document describes it', () => {
    for (const name of SERVICES) {
      const { app, document } = started(name).service.built;
      expect(listRoutes(app)).toContain('GET /readyz');
      const undocumented = listRoutes(app).filter((r) => !documentedRoutes(document).includes(r));
      expect({ name, undocumented }).toEqual({ name, undocumented: [] });
    }
  });

  it('when Prometheus scrapes a service, then it gets request metrics labelled with the service', async () => {
    const res = await fetch(`http://127.0.0.1:${started('product-service').running.port}/metrics`);
    expect(res.status).toBe(200);
    const counts = (await res.text()).split('\n').filter((l) => l.startsWith('http_request_duration_seconds_count{'));
    expect(counts.some((l) => l.includes('route="/readyz"') && l.includes('service="product-service"'))).toBe(true);
  });

  it('when the docs UI is opened through the edge, then a browsable page is served', async () => {
    const res = await fetch(`${edgeUrl}/api/docs/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('swagger-ui');
  });

  it('when a path has no route, then the edge answers a 404 problem', async () => {
    const res = await fetch(`${edgeUrl}/api/unknown-area/x`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(await res.json()).toMatchObject({ status: 404, code: 'ROUTE_NOT_FOUND' });
  });

  it('when a body is not valid JSON, then the service answers a 400 problem without internals', async () => {
    const res = await fetch(`${edgeUrl}/api/docs/openapi.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"broken":',
    });
    expect(res.status).toBe(400);
    const body = await res.text();
    expect(JSON.parse(body)).toMatchObject({ status: 400, code: 'MALFORMED_JSON' });
    expect(body).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it('when user-service starts with ADMIN_EMAIL/ADMIN_PASSWORD, then one admin exists with its personal data encrypted', async () => {
    const rows = await started('user-service').service.dataSource.getRepository(UserEntity).find();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ role: 'admin' });
    expect(rows[0]!.verifiedAt).not.toBeNull();
    expect(rows[0]!.personalData).not.toContain(stack.admin.email);
    expect(rows[0]!.passwordHash).not.toContain(stack.admin.password);
  });

  it('when a process that is not a sidecar calls a Dapr-only route directly, then it gets 401 and nothing is written', async () => {
    const product = await newProduct('Guarded', 5);
    const buyer = randomUUID();
    const direct = (name: (typeof SERVICES)[number], path: string, body?: unknown, token?: string) =>
      fetch(`http://127.0.0.1:${started(name).running.port}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { 'dapr-api-token': token } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const forged = { id: randomUUID(), topic: 'purchase-paid', data: { purchaseId: randomUUID(), saleId: randomUUID(), productId: product.id, buyerId: buyer, quantity: 9999, price: 0, orderId: randomUUID(), paidAt: new Date().toISOString() } };
    const attempts = [
      await direct('product-service', '/internal/stock/reservations', { productId: product.id, quantity: 5, reservationId: randomUUID() }),
      await direct('product-service', `/internal/stock/${product.id}`),
      await direct('purchase-service', `/internal/purchases/${randomUUID()}/restock`, {}),
      await direct('order-service', '/events/purchase-paid', forged),
      await direct('order-service', '/events/purchase-paid', forged, 'a-guessed-token-0123456789'),
      await direct('order-service', '/dapr/subscribe'),
    ];
    for (const res of attempts) {
      expect({ status: res.status, body: await res.json() }).toMatchObject({ status: 401, body: { code: 'DAPR_CALLER_REQUIRED' } });
    }
    expect((await apiCall(edgeUrl, `/api/products/${product.id}`)).body.stock).toBe(5);
    const orders = await apiCall(edgeUrl, '/api/orders', { token: await tokenMinter(stack)(buyer) });
    expect(orders.body.items).toEqual([]);
    // The edge (like the ingress) routes only /api/...: the Dapr-only routes are not reachable through it at all.
    expect((await fetch(`${edgeUrl}/internal/stock/${product.id}`)).status).toBe(404);
  });

  it('when a sidecar invokes a route of another app that the access-control policy does not allow, then Dapr refuses it (mTLS identity) and nothing changes', async () => {
    const product = await newProduct('Policed', 3);
    const reservation = { productId: product.id, quantity: 3, reservationId: randomUUID() };
    const refusal = async (dapr: Dapr, appId: string, path: string, init: { method?: 'POST'; body?: unknown } = {}) => {
      const error = await dapr.invoke(appId, path, init).catch((e: unknown) => e);
      return { path, status: (error as SidecarError).sidecarStatus, body: (error as SidecarError).sidecarBody };
    };
    const denied = { status: 403, body: expect.stringContaining('access control policy has denied access') };
    // user-service may read my orders from order-service, nothing of product-service's stock or purchase-service.
    const user = started('user-service').service.dapr;
    expect(await refusal(user, 'product-service', 'internal/stock/reservations', { method: 'POST', body: reservation })).toMatchObject(denied);
    expect(await refusal(user, 'purchase-service', `internal/purchases/${randomUUID()}/restock`, { method: 'POST', body: {} })).toMatchObject(denied);
    expect(await refusal(user, 'order-service', `api/orders/${randomUUID()}/cancel`, { method: 'POST', body: {} })).toMatchObject(denied);
    // Only purchase-service may ask order-service which orders exist.
    expect(await refusal(user, 'order-service', 'internal/orders/placed', { method: 'POST', body: { orderIds: [randomUUID()] } })).toMatchObject(denied);
    // order-service may reserve stock, but not read user-service's profiles.
    expect(await refusal(started('order-service').service.dapr, 'user-service', 'api/users/me')).toMatchObject(denied);
    // A sidecar with a valid certificate of this run but an app id the policies do not name gets nothing.
    const intruder = await stack.run.start(`${stack.run.id}-intruder`);
    const outsider = new Dapr({ httpPort: intruder.ports.http, apiToken: stack.run.apiToken });
    expect(await refusal(outsider, 'product-service', `api/products/${product.id}`)).toMatchObject(denied);
    expect(await refusal(outsider, 'user-service', 'api/auth/jwks')).toMatchObject(denied);
    await outsider.close();
    expect((await apiCall(edgeUrl, `/api/products/${product.id}`)).body.stock).toBe(3);
    // What the policy allows still works: order-service reads the product.
    expect(await started('order-service').service.dapr.find<{ id: string }>('product-service', `api/products/${product.id}`)).toMatchObject({ id: product.id });
  });

  it('when an app\'s sidecar writes another app\'s state (a stock counter, a revocation mark), then it reaches only its own keys; the owner\'s stay', async () => {
    const product = await newProduct('Owned', 4);
    const counter = new ShardedCounter(started('user-service').service.dapr.state<ShardValue>('statestore'), { shards: 8, prefix: 'stock' });
    await started('user-service').service.dapr.state('statestore').putMany(counter.keys(product.id).map((key) => ({ key, value: { available: 999, generation: 1, ops: {} } })));
    expect((await apiCall(edgeUrl, `/api/products/${product.id}`)).body.stock).toBe(4);

    const email = `revoked-${stack.run.id}@example.test`;
    const { accessToken } = await stack.signUp({ name: 'Han Yuna', email, password: 'Sh0pper!pass', phone: '010-5555-6666', address: 'Incheon' });
    expect((await apiCall(edgeUrl, '/api/auth/logout', { method: 'POST', token: accessToken })).status).toBe(204);
    const refusedEverywhere = async () =>
      (await apiCall(edgeUrl, '/api/users/me', { token: accessToken })).status === 401 && (await apiCall(edgeUrl, '/api/orders', { token: accessToken })).status === 401;
    await waitUntil('the logout to reach every service', refusedEverywhere, 5000, 50);
    await started('product-service').service.dapr.state('statestore').delete(REVOKED_SESSIONS_KEY);
    await new Promise((resolve) => setTimeout(resolve, 300)); // past the Authenticators' 250 ms reading of the list
    expect((await apiCall(edgeUrl, '/api/users/me', { token: accessToken })).body.code).toBe('SESSION_REVOKED');
    expect((await apiCall(edgeUrl, '/api/orders', { token: accessToken })).body.code).toBe('SESSION_REVOKED');
  });

  it('when an app that is not its publisher publishes purchase-paid, then its sidecar refuses it (pub/sub scopes)', async () => {
    const event = { orderId: randomUUID(), purchaseId: randomUUID(), saleId: randomUUID(), productId: randomUUID(), buyerId: randomUUID(), quantity: 1, price: 1, paidAt: new Date().toISOString() };
    for (const name of ['user-service', 'product-service', 'order-service'] as const) {
      const refused = await started(name).service.dapr.publish('pubsub', 'purchase-paid', event).catch((e: unknown) => e);
      expect({ name, status: (refused as SidecarError).sidecarStatus, body: (refused as SidecarError).sidecarBody }).toMatchObject({
        name, status: 403, body: expect.stringContaining('ERR_PUBSUB_FORBIDDEN'),
      });
    }
  });

  it('when a service\'s database user reads another service\'s database, then it is denied; its own works', async () => {
    const { env } = started('user-service');
    const connection = await mysql.createConnection({ host: env.DB_HOST ?? '127.0.0.1', port: Number(env.DB_PORT ?? 3306), user: env.DB_USER, password: env.DB_PASSWORD });
    try {
      expect(env.DB_USER).toBe(env.DB_NAME);
      const [own] = await connection.query(`SELECT COUNT(*) AS n FROM \`${env.DB_NAME}\`.users`);
      expect((own as { n: number }[])[0]!.n).toBeGreaterThanOrEqual(1);
      for (const other of ['product-service', 'purchase-service', 'order-service'] as const) {
        const database = started(other).env.DB_NAME!;
        await expect(connection.query(`SELECT * FROM \`${database}\`.migrations`)).rejects.toMatchObject({ code: expect.stringMatching(/ACCESS_DENIED/) });
      }
      await expect(connection.query('SELECT * FROM mysql.user')).rejects.toMatchObject({ code: expect.stringMatching(/ACCESS_DENIED/) });
    } finally {
      await connection.end();
    }
  });

  it('when a sidecar is called without the API token or with a wrong one, then daprd refuses it and readiness fails; with the token it works', async () => {
    const { ports } = started('order-service').sidecar;
    const refused = await new Dapr({ httpPort: ports.http }).state('statestore').get('anything').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SidecarError);
    expect((refused as SidecarError).sidecarStatus).toBe(401);
    const wrong = new Dapr({ httpPort: ports.http, apiToken: 'not-the-token-0123456789' });
    await expect(wrong.checkHealth()).rejects.toThrow(/not ready/);
    const right = new Dapr({ httpPort: ports.http, apiToken: stack.run.apiToken });
    await expect(right.checkHealth()).resolves.toBeUndefined();
    expect(await right.state('statestore').get(`${stack.run.id}-never-written`)).toBeUndefined();
  });

  it('when a sidecar stops, then its service reports not ready and the API document says which part is missing', async () => {
    await started('order-service').sidecar.stop();
    const ready = await fetch(`http://127.0.0.1:${started('order-service').running.port}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks).toMatchObject({ database: 'ok' });

    // The document is built at most once per DOCUMENT_CACHE_MS: within that time it names the missing part.
    const began = Date.now();
    let doc: { 'x-unavailable'?: string[] } = {};
    while (!doc['x-unavailable'] && Date.now() - began < DOCUMENT_CACHE_MS + 2000) {
      doc = (await (await fetch(`${edgeUrl}/api/docs/openapi.json`)).json()) as { 'x-unavailable'?: string[] };
      if (!doc['x-unavailable']) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(doc['x-unavailable']).toEqual(['order-service']);
  });
});
