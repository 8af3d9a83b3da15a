import { Router } from 'express';
import { bearerAuth, type Authenticator } from '@flash/auth';
import { handle, jsonContent, parseInput, problemResponse, z, type OpenAPIRegistry } from '@flash/http';
import type { Catalog } from '../domain/catalog';
import type { StockKeeper } from '@flash/stock';
import type { Product } from '../domain/product';

const name = z.string().trim().min(1, 'is required').max(200, 'must be at most 200 characters');
const description = z.string().trim().max(5000, 'must be at most 5000 characters');
const price = z.number({ invalid_type_error: 'must be an integer amount in minor units' })
  .int('must be an integer amount in minor units').min(0, 'must not be negative').max(1_000_000_000_000);

const NewProductBody = z
  .object({ name, description: description.default(''), price, stock: z.number().int().min(0).max(10_000_000).optional() })
  .strict()
  .openapi('NewProduct');
const ProductChangesBody = z.object({ name, description, price }).partial().strict().openapi('ProductChanges');
const ProductView = z
  .object({ id: z.string().uuid(), name: z.string(), description: z.string(), price: z.number().int(), createdAt: z.string(), updatedAt: z.string() })
  .openapi('Product');
const PageQuery = z.object({
  page: z.coerce.number().int().min(1, 'must be 1 or more').default(1),
  size: z.coerce.number().int().min(1, 'must be 1 or more').max(100, 'must be at most 100').default(20),
});
const IdParams = z.object({ id: z.string().uuid('must be a product id') });

const view = (p: Product) => ({ ...p, createdAt: p.createdAt.toISOString(), updatedAt: p.updatedAt.toISOString() });

export function productsRouter(catalog: Catalog, stock: StockKeeper, auth: Authenticator, docs: OpenAPIRegistry): Router {
  const security = bearerAuth(docs);
  const admin = { 401: problemResponse('not logged in'), 403: problemResponse('FORBIDDEN: not an admin') };
  docs.registerPath({
    method: 'get', path: '/api/products', tags: ['catalog'], summary: 'Browse the catalog, a page at a time',
    request: { query: PageQuery },
    responses: {
      200: { description: 'A page (empty past the end)', ...jsonContent(z.object({ items: z.array(ProductView), page: z.number(), size: z.number(), total: z.number() })) },
      400: problemResponse('VALIDATION_FAILED'),
    },
  });
  docs.registerPath({
    method: 'get', path: '/api/products/{id}', tags: ['catalog'], summary: 'One product, with live stock',
    request: { params: IdParams },
    responses: {
      200: { description: 'The product with its live stock', ...jsonContent(ProductView.extend({ stock: z.number().int() })) },
      404: problemResponse('NOT_FOUND'),
    },
  });
  docs.registerPath({
    method: 'post', path: '/api/admin/products', tags: ['catalog admin'], summary: 'Create a product', security,
    request: { body: jsonContent(NewProductBody) },
    responses: {
      201: { description: 'Created', ...jsonContent(ProductView) },
      400: problemResponse('VALIDATION_FAILED'),
      409: problemResponse('PRODUCT_NAME_TAKEN'),
      ...admin,
    },
  });
  docs.registerPath({
    method: 'patch', path: '/api/admin/products/{id}', tags: ['catalog admin'], summary: 'Change details or price', security,
    request: { params: IdParams, body: jsonContent(ProductChangesBody) },
    responses: {
      200: { description: 'Updated', ...jsonContent(ProductView) },
      400: problemResponse('VALIDATION_FAILED'),
      404: problemResponse('NOT_FOUND'),
      409: problemResponse('PRODUCT_NAME_TAKEN'),
      ...admin,
    },
  });

  const router = Router();
  router.get('/api/products', handle(async (req, res) => {
    const { page, size } = parseInput(PageQuery, req.query);
    const found = await catalog.list(page, size);
    res.json({ ...found, items: found.items.map(view) });
  }));
  router.get('/api/products/:id', handle(async (req, res) => {
    const product = await catalog.get(parseInput(IdParams, req.params).id);
    res.json({ ...view(product), stock: (await stock.levels(product.id)).available });
  }));
  router.post('/api/admin/products', auth.requireAdmin, handle(async (req, res) => {
    const { stock: units, ...details } = parseInput(NewProductBody, req.body);
    const product = await catalog.create(details, units);
    res.status(201).location(`/api/products/${product.id}`).json({ ...view(product), stock: (await stock.levels(product.id)).available });
  }));
  router.patch('/api/admin/products/:id', auth.requireAdmin, handle(async (req, res) => {
    const { id } = parseInput(IdParams, req.params);
    res.json(view(await catalog.update(id, parseInput(ProductChangesBody, req.body))));
  }));
  return router;
}
