import type { Router } from 'express';
import { adminOnlyResponses, bearerAuth, type Authenticator } from '@flash/auth';
import { ApiRoutes, handle, jsonContent, parseInput, problemResponse, sendPage, z, type ApiTag, type OpenAPIRegistry } from '@flash/http';
import type { Snapshots } from '@flash/stock';
import type { Catalog } from '../domain/catalog';
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
const StockedProductView = ProductView.extend({ stock: z.number().int().openapi({ description: 'Units free to sell now' }) }).openapi('StockedProduct');
const PageQuery = z.object({
  // Bounded so an offset never asks the database to skip millions of rows (100 × 10,000 is a million products).
  page: z.coerce.number().int().min(1, 'must be 1 or more').max(10_000, 'must be at most 10000').default(1),
  size: z.coerce.number().int().min(1, 'must be 1 or more').max(100, 'must be at most 100').default(20),
});
const IdParams = z.object({ id: z.string().uuid('must be a product id') });

const view = (p: Product) => ({ ...p, createdAt: p.createdAt.toISOString(), updatedAt: p.updatedAt.toISOString() });

export const CATALOG: ApiTag = { name: 'catalog', description: 'Browse the products and their live stock' };
export const CATALOG_ADMIN: ApiTag = { name: 'catalog admin', description: 'Admins create and change products and set their stock' };

/** The product page: a product with its free units, as a replica's snapshot holds it. */
export interface ShownProduct {
  product: Product;
  stock: number;
}

export function productsRouter(catalog: Catalog, shown: Snapshots<ShownProduct>, auth: Authenticator, docs: OpenAPIRegistry): Router {
  const security = bearerAuth(docs);
  return new ApiRoutes(docs, CATALOG)
    .get('/api/products', {
      operationId: 'listProducts', summary: 'Browse the catalog, a page at a time',
      description: 'Products in a stable order; `total` counts them all. A page past the end is empty.',
      request: { query: PageQuery },
      responses: {
        200: { description: 'A page (empty past the end)', ...jsonContent(z.object({ items: z.array(ProductView), page: z.number().int(), size: z.number().int(), total: z.number().int() })) },
        400: problemResponse('VALIDATION_FAILED'),
      },
    }, handle(async (req, res) => {
      const { page, size } = parseInput(PageQuery, req.query);
      const found = await catalog.list(page, size);
      res.json({ ...found, items: found.items.map(view) });
    }))
    .get('/api/products/{id}', {
      operationId: 'getProduct', summary: 'One product, with live stock',
      description: '`stock` is the number of units free to sell right now.',
      request: { params: IdParams },
      responses: {
        200: { description: 'The product with its live stock', ...jsonContent(StockedProductView) },
        400: problemResponse('VALIDATION_FAILED: not a product id'),
        404: problemResponse('NOT_FOUND'),
      },
    }, handle(async (req, res) => {
      const { product, stock } = await shown.get(parseInput(IdParams, req.params).id);
      sendPage(res, { ...view(product), stock });
    }))
    .post('/api/admin/products', {
      operationId: 'createProduct', summary: 'Create a product', security, tag: CATALOG_ADMIN,
      description: 'Names are unique regardless of case. `stock` sets the initial units free to sell (0 when left out).',
      request: { body: jsonContent(NewProductBody) },
      responses: {
        201: { description: 'Created', ...jsonContent(StockedProductView) },
        400: problemResponse('VALIDATION_FAILED'),
        409: problemResponse('PRODUCT_NAME_TAKEN'),
        ...adminOnlyResponses,
      },
    }, auth.requireAdmin, handle(async (req, res) => {
      const { stock: units, ...details } = parseInput(NewProductBody, req.body);
      const product = await catalog.create(details, units);
      // Reading it writes the new product's stock counter from the ledger.
      res.status(201).location(`/api/products/${product.id}`).json({ ...view(product), stock: (await shown.get(product.id)).stock });
    }))
    .patch('/api/admin/products/{id}', {
      operationId: 'updateProduct', summary: 'Change details or price', security, tag: CATALOG_ADMIN,
      description: 'Changes only the fields given. Stock is set with `setProductStock`.',
      request: { params: IdParams, body: jsonContent(ProductChangesBody) },
      responses: {
        200: { description: 'Updated', ...jsonContent(ProductView) },
        400: problemResponse('VALIDATION_FAILED'),
        404: problemResponse('NOT_FOUND'),
        409: problemResponse('PRODUCT_NAME_TAKEN'),
        ...adminOnlyResponses,
      },
    }, auth.requireAdmin, handle(async (req, res) => {
      const { id } = parseInput(IdParams, req.params);
      const product = await catalog.update(id, parseInput(ProductChangesBody, req.body));
      shown.invalidate(id);
      res.json(view(product));
    }))
    .router;
}
