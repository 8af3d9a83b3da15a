import { Router } from 'express';
import { bearerAuth, type Authenticator } from '@flash/auth';
import { handle, jsonContent, parseInput, problemResponse, z, type OpenAPIRegistry } from '@flash/http';
import type { FlashSales, SaleView } from '../domain/flash-sales';

const isoTime = z.string().datetime({ offset: true, message: 'must be an ISO-8601 time' }).transform((v) => new Date(v));

const NewSaleBody = z
  .object({
    productId: z.string().uuid('must be a product id'),
    quantity: z.number().int('must be a whole number').min(1, 'must be at least 1').max(1_000_000),
    startsAt: isoTime,
    endsAt: isoTime,
    perUserLimit: z.number().int().min(1, 'must be at least 1').max(100).default(1),
    holdSeconds: z.number().int().min(1, 'must be at least 1').max(3600).default(300),
  })
  .strict()
  .openapi('NewFlashSale');
const SaleParams = z.object({ id: z.string().uuid('must be a flash sale id') });

export const SaleViewSchema = z
  .object({
    id: z.string(), productId: z.string(), productName: z.string(), price: z.number().int(), quantity: z.number().int(),
    remaining: z.number().int(), status: z.enum(['SCHEDULED', 'LIVE', 'SOLD_OUT', 'ENDED']),
    startsAt: z.string(), endsAt: z.string(), perUserLimit: z.number().int(), holdSeconds: z.number().int(),
  })
  .openapi('FlashSale');
const InvariantSchema = z.object({}).passthrough().openapi('FlashSaleInvariant');

const view = (s: SaleView) => ({
  id: s.id, productId: s.productId, productName: s.productName, price: s.price, quantity: s.quantity, remaining: s.remaining,
  status: s.status, startsAt: s.startsAt.toISOString(), endsAt: s.endsAt.toISOString(), perUserLimit: s.perUserLimit,
  holdSeconds: s.holdSeconds,
});

export function flashSalesRouter(sales: FlashSales, auth: Authenticator, docs: OpenAPIRegistry): Router {
  const security = bearerAuth(docs);
  const admin = { 401: problemResponse('not logged in'), 403: problemResponse('FORBIDDEN: not an admin') };
  docs.registerPath({
    method: 'post', path: '/api/admin/flash-sales', tags: ['flash sales admin'], summary: 'Create a flash sale', security,
    request: { body: jsonContent(NewSaleBody) },
    responses: { 201: { description: 'Created', ...jsonContent(SaleViewSchema) }, 400: problemResponse('VALIDATION_FAILED'), ...admin },
  });
  docs.registerPath({
    method: 'get', path: '/api/flash-sales', tags: ['flash sales'], summary: 'Upcoming and live sales with remaining units',
    responses: { 200: { description: 'Sales', ...jsonContent(z.object({ items: z.array(SaleViewSchema) })) } },
  });
  docs.registerPath({
    method: 'get', path: '/api/flash-sales/{id}', tags: ['flash sales'], summary: 'A sale with its remaining units and status',
    request: { params: SaleParams },
    responses: { 200: { description: 'The sale', ...jsonContent(SaleViewSchema) }, 404: problemResponse('NOT_FOUND') },
  });
  docs.registerPath({
    method: 'get', path: '/api/admin/flash-sales/{id}/invariant', tags: ['flash sales admin'], security,
    summary: 'Operators: does sold + held + available = quantity hold, and do counter and purchases agree with the ledger?',
    request: { params: SaleParams },
    responses: { 200: { description: 'The check', ...jsonContent(InvariantSchema) }, 404: problemResponse('NOT_FOUND'), ...admin },
  });

  const router = Router();
  router.post('/api/admin/flash-sales', auth.requireAdmin, handle(async (req, res) => {
    const sale = await sales.create(parseInput(NewSaleBody, req.body));
    res.status(201).location(`/api/flash-sales/${sale.id}`).json(view(sale));
  }));
  router.get('/api/flash-sales', handle(async (_req, res) => {
    res.json({ items: (await sales.upcomingAndLive()).map(view) });
  }));
  router.get('/api/flash-sales/:id', handle(async (req, res) => {
    res.json(view(await sales.get(parseInput(SaleParams, req.params).id)));
  }));
  router.get('/api/admin/flash-sales/:id/invariant', auth.requireAdmin, handle(async (req, res) => {
    res.json(await sales.invariant(parseInput(SaleParams, req.params).id));
  }));
  return router;
}
