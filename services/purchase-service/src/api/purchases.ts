import type { Router } from 'express';
import { bearerAuth, principalOf, userOnlyResponses, type Authenticator } from '@flash/auth';
import { ApiRoutes, AppError, handle, jsonContent, parseInput, problemResponse, z, type ApiTag, type Metrics, type OpenAPIRegistry, type UserRate } from '@flash/http';
import { PaymentToken } from '@flash/payments';
import type { Purchase } from '../domain/flash-sale';
import type { Purchasing } from '../domain/purchasing';

const SaleParams = z.object({ id: z.string().uuid('must be a flash sale id') });
const PurchaseParams = z.object({ id: z.string().uuid('must be a purchase id') });
const PaymentBody = z.object({ paymentToken: PaymentToken.optional() }).strict().openapi('Payment');
const IdempotencyHeaders = z.object({
  'idempotency-key': z.string({ required_error: 'the Idempotency-Key header is required' }).min(1).max(100)
    .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits, ., _, : and - only')
    .openapi({ description: 'New for each attempt (a UUID), the same when retrying it: a retry gets the first answer', example: '3f1c2a9e-6b7d-4e8f-9a0b-1c2d3e4f5a6b' }),
});

const HeldSchema = z.object({ purchaseId: z.string(), saleId: z.string(), status: z.literal('HELD'), holdExpiresAt: z.string(), price: z.number() }).openapi('Hold');
const PurchaseSchema = z
  .object({
    purchaseId: z.string(), saleId: z.string(), status: z.enum(['HELD', 'PAID', 'PAYMENT_FAILED', 'ABANDONED', 'EXPIRED', 'RESTOCKED']),
    price: z.number(), holdExpiresAt: z.string(), orderId: z.string().nullable(),
  })
  .openapi('Purchase');
const PurchaseRecordSchema = PurchaseSchema.extend({ buyerId: z.string() }).openapi('PurchaseRecord');
const PurchaseHistorySchema = PurchaseSchema.extend({ productId: z.string(), productName: z.string(), createdAt: z.string() }).openapi('PurchaseHistoryEntry');

const PURCHASES: ApiTag = { name: 'purchases', description: 'Hold a unit of a live flash sale, pay for it or walk away; my purchase history' };
const INTERNAL_PURCHASES: ApiTag = { name: 'purchases (Dapr invocation only)', description: 'Calls other services make through Dapr; not routed by the ingress' };

/** The answer to an attempt: always the one the first attempt with this key got. */
const held = (p: Purchase) => ({ purchaseId: p.id, saleId: p.saleId, status: 'HELD' as const, holdExpiresAt: p.holdExpiresAt.toISOString(), price: p.price });
const view = (p: Purchase) => ({
  purchaseId: p.id, saleId: p.saleId, status: p.status, price: p.price, holdExpiresAt: p.holdExpiresAt.toISOString(), orderId: p.orderId,
});

export function purchasesRouter(purchasing: Purchasing, auth: Authenticator, docs: OpenAPIRegistry, metrics: Metrics, throttle: UserRate): Router {
  const attempts = metrics.counter('purchase_attempts_total', 'Purchase attempts by outcome', ['outcome']);
  const payments = metrics.counter('payments_total', 'Payments by outcome', ['outcome']);
  const security = bearerAuth(docs);
  const mine = { ...userOnlyResponses, 404: problemResponse('NOT_FOUND (or not yours)'), 400: problemResponse('VALIDATION_FAILED: not a purchase id') };
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

  return new ApiRoutes(docs, PURCHASES)
    // The opening second's route: lean, served by Node's HTTP server without express (its refusals are most of a crowd).
    .lean('post', '/api/flash-sales/{id}/purchases', {
      operationId: 'createFlashSalePurchase', summary: 'Hold one unit of a live sale (pay within the hold)', security,
      description: 'Holds one unit for `holdSeconds`; pay with `payFlashSalePurchase` before `holdExpiresAt`. Send a new `Idempotency-Key` per attempt and the same one when retrying it: a retry gets the first answer and never a second unit.',
      request: { params: SaleParams, headers: IdempotencyHeaders },
      responses: {
        201: { description: 'Held; the same Idempotency-Key always gets this answer', ...jsonContent(HeldSchema) },
        400: problemResponse('VALIDATION_FAILED (e.g. no Idempotency-Key)'),
        ...userOnlyResponses,
        403: problemResponse('SALE_NOT_OPEN or SALE_ENDED'),
        404: problemResponse('NOT_FOUND'),
        409: problemResponse('SOLD_OUT or LIMIT_REACHED'),
        422: problemResponse('IDEMPOTENCY_KEY_REUSED for another sale'),
        429: problemResponse('TOO_MANY_ATTEMPTS: retry after Retry-After seconds'),
        503: problemResponse('SERVICE_UNAVAILABLE: retry with the same Idempotency-Key after Retry-After seconds'),
      },
    }, async (req, params) => {
      // A refusal that is the same whoever asks (not open yet; sold out, to all but a retry of an attempt that held) is
      // given before the token's signature is checked: most of an opening's crowd gets one, and the check costs more
      // than the rest of it. It is given only to a request with a bearer token and valid input, counts towards no
      // buyer's rate, and tells nothing the sale's page does not. Everything else is checked first, as before.
      const claimed = auth.claimedUser(req);
      const sale = claimed ? SaleParams.safeParse(params) : undefined;
      const headers = claimed ? IdempotencyHeaders.safeParse(req.headers) : undefined;
      if (claimed && sale?.success && headers?.success) {
        // An unknown sale (or a failure) is answered on the checked path.
        const refused = await purchasing.refusal(sale.data.id, claimed, headers.data['idempotency-key']).catch(() => undefined);
        if (refused) {
          attempts.inc({ outcome: refused.code });
          throw refused;
        }
      }
      const { userId } = await auth.principal(req);
      const { id } = sale?.success ? sale.data : parseInput(SaleParams, params);
      const key = (headers?.success ? headers.data : parseInput(IdempotencyHeaders, req.headers))['idempotency-key'];
      const purchase = await counted(attempts, async () => {
        await throttle.admit(userId);
        return purchasing.attempt(id, userId, key);
      }, 'HELD');
      return { status: 201, body: held(purchase) };
    })
    .post('/api/purchases/{id}/payment', {
      operationId: 'payFlashSalePurchase', summary: 'Pay a held purchase', security,
      description: 'Charges the price within the hold, under the purchase id as the idempotency key (a retry never charges twice). PAID '
        + 'carries the id of the order the purchase becomes; a declined payment, one the provider does not answer in time, or an expired '
        + 'hold gives the unit back, and a charge that landed anyway is refunded. `paymentToken` is optional; test tokens force an outcome.',
      request: { params: PurchaseParams, body: { ...jsonContent(PaymentBody), required: false } },
      responses: {
        200: { description: 'PAID, with the id of the order it becomes', ...jsonContent(PurchaseSchema) },
        ...mine,
        402: problemResponse('PAYMENT_FAILED: the unit went back'),
        409: problemResponse('PURCHASE_NOT_HELD'),
        410: problemResponse('HOLD_EXPIRED: the unit went back'),
        504: problemResponse('PAYMENT_TIMEOUT: the unit went back; a charge that landed is refunded'),
      },
    }, auth.requireUser, handle(async (req, res) => {
      const { id } = parseInput(PurchaseParams, req.params);
      const { paymentToken } = parseInput(PaymentBody, req.body ?? {});
      res.json(view(await counted(payments, () => purchasing.pay(id, principalOf(res).userId, paymentToken), 'PAID')));
    }))
    .delete('/api/purchases/{id}', {
      operationId: 'abandonFlashSalePurchase', summary: 'Abandon a held purchase', security,
      description: 'Walk away from a hold before paying: the unit goes back to the sale at once.',
      request: { params: PurchaseParams },
      responses: {
        200: { description: 'Abandoned', ...jsonContent(PurchaseSchema) },
        ...mine,
        409: problemResponse('PURCHASE_NOT_HELD'),
      },
    }, auth.requireUser, handle(async (req, res) => {
      res.json(view(await purchasing.abandon(parseInput(PurchaseParams, req.params).id, principalOf(res).userId)));
    }))
    .get('/internal/purchases/{id}', {
      operationId: 'getFlashSalePurchaseRecord', summary: 'A purchase as recorded, for another service to confirm it', tag: INTERNAL_PURCHASES,
      description: 'Called by order-service through Dapr invocation before it turns a purchase-paid event into an order.',
      request: { params: PurchaseParams },
      responses: { 200: { description: 'The purchase with its buyer', ...jsonContent(PurchaseRecordSchema) }, 404: problemResponse('NOT_FOUND') },
    }, handle(async (req, res) => {
      const purchase = await purchasing.record(parseInput(PurchaseParams, req.params).id);
      res.json({ ...view(purchase), buyerId: purchase.buyerId });
    }))
    .post('/internal/purchases/{id}/restock', {
      operationId: 'restockFlashSalePurchase', summary: 'A paid unit goes back to its sale', tag: INTERNAL_PURCHASES,
      description: 'Called by order-service through Dapr invocation when an order is cancelled or returned; idempotent.',
      request: { params: PurchaseParams },
      responses: { 200: { description: 'RESTOCKED', ...jsonContent(PurchaseSchema) }, 404: problemResponse('NOT_FOUND'), 409: problemResponse('PURCHASE_NOT_PAID') },
    }, handle(async (req, res) => {
      res.json(view(await purchasing.restock(parseInput(PurchaseParams, req.params).id)));
    }))
    .get('/api/purchases', {
      operationId: 'listMyPurchases', summary: 'My purchase history', security,
      description: "The caller's flash-sale purchases in every state, newest first.",
      responses: {
        200: { description: 'Newest first', ...jsonContent(z.object({ items: z.array(PurchaseHistorySchema) })) },
        ...userOnlyResponses,
      },
    }, auth.requireUser, handle(async (_req, res) => {
      const items = await purchasing.history(principalOf(res).userId);
      res.json({ items: items.map((p) => ({ ...view(p), productId: p.productId, productName: p.productName, createdAt: p.createdAt.toISOString() })) });
    }))
    .router;
}
