import { apiCall, type ApiRequest } from '@flash/stack';
import { startTestStack, type TestStack } from '../../../test/support/stack';

describe('catalog: products managed by admins, browsed by everyone', () => {
  let stack: TestStack;
  let adminToken: string;
  let customerToken: string;

  const api = (path: string, init?: ApiRequest) => apiCall(stack.edgeUrl, path, init);

  beforeAll(async () => {
    stack = await startTestStack(['user-service', 'product-service']);
    adminToken = (await api('/api/auth/login', { body: stack.admin })).body.accessToken;
    const email = `buyer-${stack.run.id}@example.test`;
    customerToken = (await stack.signUp({ name: 'Buyer', email, password: 'Buy3r$pass', phone: '010-2222-3333', address: 'Seoul' })).accessToken;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('when the catalog is empty, then the listing is an empty page, not an error', async () => {
    const res = await api('/api/products?page=3&size=10');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [], page: 3, size: 10, total: 0 });
  });

  it('when an admin creates a product, then everyone sees it; a customer or a stranger may not create one', async () => {
    const created = await api('/api/admin/products', { token: adminToken, body: { name: 'Aurora jacket', description: 'Limited', price: 249_000 } });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/api/products/${created.body.id}`);
    const detail = await api(`/api/products/${created.body.id}`);
    expect(detail.body).toMatchObject({ name: 'Aurora jacket', description: 'Limited', price: 249_000 });

    const customer = await api('/api/admin/products', { token: customerToken, body: { name: 'Other', price: 1 } });
    expect(customer.status).toBe(403);
    const stranger = await api('/api/admin/products', { body: { name: 'Other', price: 1 } });
    expect(stranger.status).toBe(401);
    expect((await api('/api/products?size=100')).body.items.map((p: { name: string }) => p.name)).not.toContain('Other');
  });

  it('when a name is taken (in any letter case), then creating or renaming to it is 409', async () => {
    const first = await api('/api/admin/products', { token: adminToken, body: { name: 'Comet cap', price: 30_000 } });
    expect(first.status).toBe(201);
    const dup = await api('/api/admin/products', { token: adminToken, body: { name: 'COMET CAP', price: 1 } });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('PRODUCT_NAME_TAKEN');
    const other = await api('/api/admin/products', { token: adminToken, body: { name: 'Nova cap', price: 30_000 } });
    const rename = await api(`/api/admin/products/${other.body.id}`, { method: 'PATCH', token: adminToken, body: { name: 'Comet Cap' } });
    expect(rename.status).toBe(409);
    expect((await api(`/api/products/${other.body.id}`)).body.name).toBe('Nova cap');
  });

  it('when an admin changes a price, then the product shows it', async () => {
    const created = await api('/api/admin/products', { token: adminToken, body: { name: 'Meteor tee', price: 19_000 } });
    const patched = await api(`/api/admin/products/${created.body.id}`, { method: 'PATCH', token: adminToken, body: { price: 17_500 } });
    expect(patched.status).toBe(200);
    expect((await api(`/api/products/${created.body.id}`)).body.price).toBe(17_500);
  });

  it('when a browser revalidates a product page, then it gets 304 until the product changes; other answers carry no ETag', async () => {
    const created = await api('/api/admin/products', { token: adminToken, body: { name: 'Nebula scarf', price: 25_000 } });
    const page = await api(`/api/products/${created.body.id}`);
    const etag = page.headers.get('etag');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(etag).toMatch(/^W\/".+"$/);
    // (fetch would add its own Cache-Control: no-cache to a conditional request, which asks for a full answer.)
    const revalidate = () => fetch(`${stack.edgeUrl}/api/products/${created.body.id}`, { headers: { 'if-none-match': etag!, 'cache-control': 'max-age=0' } });
    const repeat = await revalidate();
    expect(repeat.status).toBe(304);
    expect(await repeat.text()).toBe('');

    await api(`/api/admin/products/${created.body.id}`, { method: 'PATCH', token: adminToken, body: { price: 24_000 } });
    let changed = await revalidate();
    // The page is a snapshot: it shows the change within a second.
    for (const until = Date.now() + 2000; changed.status === 304 && Date.now() < until; changed = await revalidate()) await new Promise((r) => setTimeout(r, 100));
    expect(changed.status).toBe(200);
    expect(((await changed.json()) as { price: number }).price).toBe(24_000);
    expect(changed.headers.get('etag')).not.toBe(etag);

    const refused = await api('/api/admin/products', { body: { name: 'Other', price: 1 } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('etag')).toBeNull();
  });

  it('when input is bad, then a 400 problem names each field; unknown ids are 404', async () => {
    const bad = await api('/api/admin/products', { token: adminToken, body: { name: '', price: 10.5 } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['name', 'price']);
    expect((await api('/api/products?size=1000')).status).toBe(400);
    expect((await api('/api/products/not-a-uuid')).status).toBe(400);
    const missing = await api('/api/products/00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
  });

  it('when a page number or size is out of bounds, then the answer is 400 naming the field, not a scan of the table', async () => {
    for (const [query, field] of [['page=10001', 'page'], ['page=0', 'page'], ['size=101', 'size'], ['page=1e9', 'page']] as const) {
      const res = await api(`/api/products?${query}`);
      expect({ query, status: res.status, fields: res.body.errors?.map((e: { field: string }) => e.field) }).toEqual({ query, status: 400, fields: [field] });
    }
    expect((await api('/api/products?page=10000&size=100')).status).toBe(200);
  });

  it('when products span pages, then each page holds its share and the total counts them all', async () => {
    const all = await api('/api/products?page=1&size=100');
    const total = all.body.total as number;
    expect(total).toBeGreaterThanOrEqual(4);
    const first = await api('/api/products?page=1&size=2');
    const second = await api('/api/products?page=2&size=2');
    expect(first.body.items).toHaveLength(2);
    expect(first.body.total).toBe(total);
    expect(second.body.items[0].id).not.toBe(first.body.items[0].id);
    expect([...first.body.items, ...second.body.items].map((p: { id: string }) => p.id)).toEqual(all.body.items.slice(0, 4).map((p: { id: string }) => p.id));
  });
});
