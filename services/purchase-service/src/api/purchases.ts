import { Router } from 'express';
import { bearerAuth, principalOf, type Authenticator } from '@flash/auth';
import { AppError, handle, jsonContent, parseInput, problemResponse, z, type Metrics, type OpenAPIRegistry } from '@flash/http';
import { PaymentToken } from '@flash/payments';
import type { Purchase } from '../domain/flash-sale';
import type { Purchasing } from '../domain/purchasing';

const SaleParams = z.object({ id: z.string().uuid('must be a flash sale id') });
const PurchaseParams = z.object({ id: z.string().uuid('must be a purchase id') });
const PaymentBody = z.object({ paymentToken: PaymentToken.optional() }).strict().openapi('Payment');
const IdempotencyHeaders = z.object({
  'idempotency-key': z.string({ required_error: 'the Idempotency-Key header is required' }).min(1).max(100)
    .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits, ., _, : and - only'),
});

const HeldSchema = z.object({ purchaseId: z.string(), saleId: z.string(), status: z.literal('HELD'), holdExpiresAt: z.string(), price: z.number() }).openapi('Hold');
const PurchaseSchema = z
  .object({
    purchaseId: z.string(), saleId: z.string(), status: z.enum(['HELD', 'PAID', 'PAYMENT_FAILED', 'ABANDONED', 'EXPIRED', 'RESTOCKED']),
    price: z.number(), holdExpiresAt: z.string(), orderId: z.string().nullable(),
  })
  .openapi('Purchase');

/** The answer to an attempt: always the one the first attempt with this key got. */
const held = (p: Purchase) => ({ purchaseId: p.id, saleId: p.saleId, status: 'HELD' as const, holdExpiresAt: p.holdExpiresAt.toISOString(), price: p.price });
const view = (p: Purchase) => ({
  purchaseId: p.id, saleId: p.saleId, status: p.status, price: p.price, holdExpiresAt: p.holdExpiresAt.toISOString(), orderId: p.orderId,
});

export function purchasesRouter(purchasing: Purchasing, auth: Authenticator, docs: OpenAPIRegistry, metrics: Metrics): Router {
  const attempts = metrics.counter('purchase_attempts_total', 'Purchase attempts by outcome', ['outcome']);
  const payments = metrics.counter('payments_total', 'Payments by outcome', ['outcome']);
  const security = bearerAuth(docs);
  const tags = ['purchases'];
  docs.registerPath({
    method: 'post', path: '/api/flash-sales/{id}/purchases', tags, security, summary: 'Hold one unit (pay within the hold)',
    request: { params: SaleParams, headers: IdempotencyHeaders },
    responses: {
      201: { description: 'Held; the same Idempotency-Key always gets this answer', ...jsonContent(HeldSchema) },
      400: problemResponse('VALIDATION_FAILED (e.g. no Idempotency-Key)'),
      401: problemResponse('not logged in'),
      403: problemResponse('SALE_NOT_OPEN or SALE_ENDED'),
      404: problemResponse('NOT_FOUND'),
      409: problemResponse('SOLD_OUT or LIMIT_REACHED'),
      422: problemResponse('IDEMPOTENCY_KEY_REUSED for another sale'),
    },
  });
  docs.registerPath({
    method: 'post', path: '/api/purchases/{id}/payment', tags, security, summary: 'Pay a held purchase',
    request: { params: PurchaseParams, body: { ...jsonContent(PaymentBody), required: false } },
    responses: {
      200: { description: 'PAID, with the id of the order it becomes', ...jsonContent(PurchaseSchema) },
      400: problemResponse('VALIDATION_FAILED'),
      402: problemResponse('PAYMENT_FAILED: the unit went back'),
      404: problemResponse('NOT_FOUND (or not yours)'),
      409: problemResponse('PURCHASE_NOT_HELD'),
      410: problemResponse('HOLD_EXPIRED: the unit went back'),
      504: problemResponse('PAYMENT_TIMEOUT: the unit went back; a charge that landed is refunded'),
    },
  });
  docs.registerPath({
    method: 'delete', path: '/api/purchases/{id}', tags, security, summary: 'Abandon a held purchase: the unit goes back',
    request: { params: PurchaseParams },
    responses: {
      200: { description: 'Abandoned', ...jsonContent(PurchaseSchema) },
      404: problemResponse('NOT_FOUND (or not yours)'),
      409: problemResponse('PURCHASE_NOT_HELD'),
    },
  });
  docs.registerPath({
    method: 'get', path: '/api/purchases', tags, security, summary: 'My purchase history',
    responses: { 200: { description: 'Newest first', ...jsonContent(z.object({ items: z.array(PurchaseSchema.extend({ productId: z.string(), productName: z.string(), createdAt: z.string() })) })) } },
  });

  docs.registerPath({
    method: 'post', path: '/internal/purchases/{id}/restock', tags: ['purchases (Dapr invocation only)'],
    summary: "A paid unit goes back to its sale (the order was cancelled or returned); idempotent",
    request: { params: PurchaseParams },
    responses: { 200: { description: 'RESTOCKED', ...jsonContent(PurchaseSchema) }, 404: problemResponse('NOT_FOUND'), 409: problemResponse('PURCHASE_NOT_PAID') },
  });

  const counted = async <T>(counter: typeof attempts, work: () => Promise<T>, ok: string): Promise<T> => {
    try {
      const result = await work();
      counter.inc({ outcome: ok });
      return result;
    } catch (err) {
      counter.inc({ outcome: err instanceof AppError ? err.code : 'error' });
      throw err;
    }
  };

  const router = Router();
  router.post('/api/flash-sales/:id/purchases', auth.requireUser, handle(async (req, res) => {
    const { id } = parseInput(SaleParams, req.params);
    const key = parseInput(IdempotencyHeaders, req.headers)['idempotency-key'];
    const purchase = await counted(attempts, () => purchasing.attempt(id, principalOf(res).userId, key), 'HELD');
    res.status(201).json(held(purchase));
  }));
  router.post('/api/purchases/:id/payment', auth.requireUser, handle(async (req, res) => {
    const { id } = parseInput(PurchaseParams, req.params);
    const { paymentToken } = parseInput(PaymentBody, req.body ?? {});
    res.json(view(await counted(payments, () => purchasing.pay(id, principalOf(res).userId, paymentToken), 'PAID')));
  }));
  router.delete('/api/purchases/:id', auth.requireUser, handle(async (req, res) => {
    res.json(view(await purchasing.abandon(parseInput(PurchaseParams, req.params).id, principalOf(res).userId)));
  }));
  router.post('/internal/purchases/:id/restock', handle(async (req, res) => {
    res.json(view(await purchasing.restock(parseInput(PurchaseParams, req.params).id)));
  }));
  router.get('/api/purchases', auth.requireUser, handle(async (_req, res) => {
    const items = await purchasing.history(principalOf(res).userId);
    res.json({ items: items.map((p) => ({ ...view(p), productId: p.productId, productName: p.productName, createdAt: p.createdAt.toISOString() })) });
  }));
  return router;
}
