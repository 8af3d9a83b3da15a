import { documentedRoutes, listRoutes, type OpenApiDocument } from '@flash/http';
import { UserEntity } from '../services/user-service/src/data/user.entity';
import { SERVICES, startTestStack, type TestStack } from './support/stack';

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
    // Every public route of every service is in it; internal, event, Dapr and cron routes are not (test/api-docs.test.ts).
    for (const name of SERVICES) {
      for (const route of documentedRoutes(started(name).service.built.document)) {
        if (route.split(' ')[1]!.startsWith('/api/')) expect(documentedRoutes(doc)).toContain(route);
        else expect(documentedRoutes(doc)).not.toContain(route);
      }
    }
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

  it('when a sidecar stops, then its service reports not ready and the API document says which part is missing', async () => {
    await started('order-service').sidecar.stop();
    const ready = await fetch(`http://127.0.0.1:${started('order-service').running.port}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks).toMatchObject({ database: 'ok' });

    const doc = (await (await fetch(`${edgeUrl}/api/docs/openapi.json`)).json()) as { 'x-unavailable'?: string[] };
    expect(doc['x-unavailable']).toEqual(['order-service']);
  });
});
