import type { Router } from 'express';
import { adminOnlyResponses, bearerAuth, type Authenticator } from '@flash/auth';
import { ApiRoutes, handle, jsonContent, parseInput, problemResponse, sendPage, z, type ApiTag, type OpenAPIRegistry } from '@flash/http';
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
const count = z.number().int();
const InvariantSchema = z
  .object({
    saleId: z.string(), quantity: count,
    ledger: z.object({ available: count, held: count, sold: count }),
    counter: z.object({ available: count }),
    purchases: z.object({ held: count, paid: count, paymentFailed: count, abandoned: count, expired: count, restocked: count }),
    ledgerBalances: z.boolean().openapi({ description: 'available + held + sold = quantity in the ledger' }),
    consistent: z.boolean().openapi({ description: 'the live counter and the purchases agree with the ledger' }),
  })
  .openapi('FlashSaleInvariant');

const view = (s: SaleView) => ({
  id: s.id, productId: s.productId, productName: s.productName, price: s.price, quantity: s.quantity, remaining: s.remaining,
  status: s.status, startsAt: s.startsAt.toISOString(), endsAt: s.endsAt.toISOString(), perUserLimit: s.perUserLimit,
  holdSeconds: s.holdSeconds,
});

const FLASH_SALES: ApiTag = { name: 'flash sales', description: 'Limited units on sale at a fixed instant: upcoming and live sales, remaining units' };
const FLASH_SALES_ADMIN: ApiTag = { name: 'flash sales admin', description: 'Admins create sales and check that every unit is accounted for' };

export function flashSalesRouter(sales: FlashSales, auth: Authenticator, docs: OpenAPIRegistry): Router {
  const security = bearerAuth(docs);
  return new ApiRoutes(docs, FLASH_SALES)
    .post('/api/admin/flash-sales', {
      operationId: 'createFlashSale', summary: 'Create a flash sale', security, tag: FLASH_SALES_ADMIN,
      description: 'Puts `quantity` units of a product on sale from `startsAt` to `endsAt`; each buyer may hold or buy at most `perUserLimit`, and a hold lasts `holdSeconds`.',
      request: { body: jsonContent(NewSaleBody) },
      responses: { 201: { description: 'Created', ...jsonContent(SaleViewSchema) }, 400: problemResponse('VALIDATION_FAILED'), ...adminOnlyResponses },
    }, auth.requireAdmin, handle(async (req, res) => {
      const sale = await sales.create(parseInput(NewSaleBody, req.body));
      res.status(201).location(`/api/flash-sales/${sale.id}`).json(view(sale));
    }))
    .get('/api/flash-sales', {
      operationId: 'listFlashSales', summary: 'Upcoming and live sales',
      description: 'Sales that have not ended, with their remaining units and status.',
      responses: { 200: { description: 'Sales', ...jsonContent(z.object({ items: z.array(SaleViewSchema) })) } },
    }, handle(async (_req, res) => {
      sendPage(res, { items: (await sales.upcomingAndLive()).map(view) });
    }))
    .get('/api/flash-sales/{id}', {
      operationId: 'getFlashSale', summary: 'A sale with its remaining units and status',
      description: '`status` is SCHEDULED before `startsAt`, LIVE while units remain, SOLD_OUT, or ENDED after `endsAt`.',
      request: { params: SaleParams },
      responses: {
        200: { description: 'The sale', ...jsonContent(SaleViewSchema) },
        400: problemResponse('VALIDATION_FAILED: not a flash sale id'),
        404: problemResponse('NOT_FOUND'),
      },
    }, handle(async (req, res) => {
      sendPage(res, view(await sales.get(parseInput(SaleParams, req.params).id)));
    }))
    .get('/api/admin/flash-sales/{id}/invariant', {
      operationId: 'checkFlashSaleInvariant', summary: 'Check that every unit of a sale is accounted for', security, tag: FLASH_SALES_ADMIN,
      description: 'For operators: does sold + held + available = quantity hold, and do the live counter and the purchases agree with the ledger? `consistent` says whether they do.',
      request: { params: SaleParams },
      responses: {
        200: { description: 'The check', ...jsonContent(InvariantSchema) },
        400: problemResponse('VALIDATION_FAILED: not a flash sale id'),
        404: problemResponse('NOT_FOUND'),
        ...adminOnlyResponses,
      },
    }, auth.requireAdmin, handle(async (req, res) => {
      res.json(await sales.invariant(parseInput(SaleParams, req.params).id));
    }))
    .router;
}
