import type { Request, Router } from 'express';
import { bearerAuth, principalOf, userOnlyResponses, type Authenticator } from '@flash/auth';
import { ApiRoutes, AppError, handle, jsonContent, parseInput, problemResponse, z, type ApiTag, type Metrics, type OpenAPIRegistry, type UserRate } from '@flash/http';
import { PaymentToken } from '@flash/payments';
import type { Orders } from '../domain/orders';
import type { OrderDetails } from '../domain/ports';

const CheckoutBody = z
  .object({
    items: z.array(z.object({
      productId: z.string().uuid('must be a product id'),
      quantity: z.number().int('must be a whole number').min(1, 'must be at least 1').max(100),
    }).strict()).min(1, 'needs at least one item').max(20)
      .refine((items) => new Set(items.map((i) => i.productId)).size === items.length, 'each product once'),
    paymentToken: PaymentToken.optional(),
  })
  .strict()
  .openapi('Checkout');
const OrderParams = z.object({ id: z.string().uuid('must be an order id') });
const CheckoutHeaders = z.object({
  'idempotency-key': z.string().min(1).max(100).regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits, ., _, : and - only').optional()
    .describe('A retry with the same key gets the same outcome: never a second charge or order'),
});

const PaymentSchema = z.object({ status: z.enum(['PENDING', 'PAID', 'DECLINED', 'TIMED_OUT']), amount: z.number(), reference: z.string().nullable() });
const RefundSchema = z.object({
  status: z.enum(['PENDING', 'REFUNDED']), amount: z.number(), reference: z.string().nullable(),
  requestedAt: z.string(), at: z.string().nullable().describe('when the provider confirmed the refund'),
});

export const OrderSchema = z
  .object({
    id: z.string(), source: z.enum(['FLASH', 'REGULAR']),
    status: z.enum(['PLACED', 'SHIPPING', 'DELIVERED', 'CANCELLED', 'RETURN_REQUESTED', 'RETURNED']),
    total: z.number(), placedAt: z.string(), deliveredAt: z.string().nullable(),
    items: z.array(z.object({ productId: z.string(), quantity: z.number(), price: z.number(), saleId: z.string().nullable() })),
    transitions: z.array(z.object({ from: z.string().nullable(), to: z.string(), at: z.string() })),
    payment: PaymentSchema.nullable(),
    refund: RefundSchema.nullable(),
  })
  .openapi('Order');

const ORDERS: ApiTag = { name: 'orders', description: 'Regular checkout, my orders, cancel and return, with their payments and refunds' };
const INTERNAL_ORDERS: ApiTag = { name: 'orders (Dapr invocation only)', description: 'Calls other services make through Dapr; not routed by the ingress' };
const PlacedQuery = z.object({ orderIds: z.array(z.string().uuid('must be an order id')).min(1).max(500) }).strict();

export const orderView = ({ order, items, transitions, payment }: OrderDetails) => ({
  id: order.id, source: order.source, status: order.status, total: order.total, placedAt: order.placedAt.toISOString(),
  deliveredAt: order.deliveredAt?.toISOString() ?? null,
  items: items.map((i) => ({ productId: i.productId, quantity: i.quantity, price: i.price, saleId: i.saleId })),
  transitions: transitions.map((t) => ({ from: t.fromStatus, to: t.toStatus, at: t.at.toISOString() })),
  payment: payment ? { status: payment.status, amount: payment.amount, reference: payment.reference } : null,
  refund: payment?.refundStatus ? {
    status: payment.refundStatus, amount: payment.refundAmount ?? 0, reference: payment.refundReference,
    requestedAt: payment.refundRequestedAt!.toISOString(), at: payment.refundedAt?.toISOString() ?? null,
  } : null,
});

export function ordersRouter(orders: Orders, auth: Authenticator, docs: OpenAPIRegistry, metrics: Metrics, checkouts: UserRate): Router {
  const placed = metrics.counter('orders_placed_total', 'Orders placed by source', ['source']);
  const charged = metrics.counter('payments_total', 'Checkout payments by outcome (PAID, PAYMENT_FAILED, PAYMENT_TIMEOUT, …)', ['outcome']);
  const security = bearerAuth(docs);
  const mine = { ...userOnlyResponses, 400: problemResponse('VALIDATION_FAILED: not an order id'), 404: problemResponse('NOT_FOUND (or not yours)') };
  const byId = (req: Request) => parseInput(OrderParams, req.params).id;
  return new ApiRoutes(docs, ORDERS)
    .post('/api/orders', {
      operationId: 'placeOrder', summary: 'Regular checkout, paid', security,
      description: 'Every line is reserved; if one is short, nothing is created and nothing stays reserved (409). Otherwise the total is '
        + 'charged, and only an approved charge places the order and commits the stock. A declined charge (402) or one the provider '
        + 'does not answer in time (504) leaves no order and nothing reserved; a charge that landed anyway is refunded. The same '
        + 'Idempotency-Key with the same basket gets the first answer again, never a second charge or order.',
      request: { body: jsonContent(CheckoutBody), headers: CheckoutHeaders },
      responses: {
        201: { description: 'Placed and paid (a retry with the same Idempotency-Key gets the same order)', ...jsonContent(OrderSchema) },
        400: problemResponse('VALIDATION_FAILED'),
        ...userOnlyResponses,
        402: problemResponse('PAYMENT_FAILED: no order, the stock went back'),
        409: problemResponse('INSUFFICIENT_STOCK: nothing was created, nothing stays reserved; CHECKOUT_IN_PROGRESS for a key still being charged'),
        422: problemResponse('IDEMPOTENCY_KEY_REUSED with another basket'),
        429: problemResponse('TOO_MANY_CHECKOUTS: retry after Retry-After seconds'),
        504: problemResponse('PAYMENT_TIMEOUT: no order, the stock went back, a charge that landed is refunded'),
      },
    }, auth.requireUser, handle(async (req, res) => {
      const { items, paymentToken } = parseInput(CheckoutBody, req.body);
      const idempotencyKey = parseInput(CheckoutHeaders, req.headers)['idempotency-key'];
      await checkouts.admit(principalOf(res).userId);
      const order = await orders.checkout(principalOf(res).userId, items, { idempotencyKey, paymentToken }).catch((err: unknown) => {
        if (err instanceof AppError && err.code.startsWith('PAYMENT_')) charged.inc({ outcome: err.code });
        throw err;
      });
      charged.inc({ outcome: 'PAID' });
      placed.inc({ source: 'REGULAR' });
      res.status(201).location(`/api/orders/${order.order.id}`).json(orderView(order));
    }))
    .get('/api/orders', {
      operationId: 'listMyOrders', summary: 'My orders', security,
      description: "The caller's orders, regular and from flash sales, newest first, each with its payment and refund.",
      responses: { 200: { description: 'Newest first', ...jsonContent(z.object({ items: z.array(OrderSchema) })) }, ...userOnlyResponses },
    }, auth.requireUser, handle(async (_req, res) => {
      res.json({ items: (await orders.mine(principalOf(res).userId)).map(orderView) });
    }))
    .get('/api/orders/{id}', {
      operationId: 'getOrder', summary: 'An order with its history of transitions, its payment and its refund', security,
      description: 'PLACED → SHIPPING a day after the order → DELIVERED two days after it; every transition with its time. `payment` is '
        + 'what was charged; `refund` appears once the order is cancelled or its return completes (PENDING until the provider confirms).',
      request: { params: OrderParams }, responses: { 200: { description: 'The order', ...jsonContent(OrderSchema) }, ...mine },
    }, auth.requireUser, handle(async (req, res) => {
      res.json(orderView(await orders.get(principalOf(res).userId, byId(req))));
    }))
    .post('/api/orders/{id}/cancel', {
      operationId: 'cancelOrder', summary: 'Cancel an order before it ships', security,
      description: 'Only while PLACED; the quantity goes back to stock (or to its flash sale) exactly once, and the payment is refunded '
        + 'once: the answer does not wait for the provider (refund PENDING until it confirms).',
      request: { params: OrderParams },
      responses: { 200: { description: 'Cancelled', ...jsonContent(OrderSchema) }, ...mine, 409: problemResponse('ORDER_NOT_CANCELLABLE') },
    }, auth.requireUser, handle(async (req, res) => {
      res.json(orderView(await orders.cancel(principalOf(res).userId, byId(req))));
    }))
    .post('/api/orders/{id}/return', {
      operationId: 'returnOrder', summary: 'Ask for a return', security,
      description: 'Only while DELIVERED and within a day of delivery; the return completes a day later, when the quantity goes back '
        + 'and the payment is refunded, each once.',
      request: { params: OrderParams },
      responses: { 200: { description: 'Return requested', ...jsonContent(OrderSchema) }, ...mine, 409: problemResponse('RETURN_NOT_ALLOWED') },
    }, auth.requireUser, handle(async (req, res) => {
      res.json(orderView(await orders.requestReturn(principalOf(res).userId, byId(req))));
    }))
    .post('/internal/orders/placed', {
      operationId: 'placedOrders', summary: 'Which of these orders exist', tag: INTERNAL_ORDERS,
      description: 'Called by purchase-service through Dapr invocation: a paid flash purchase whose order (under the purchase id) is '
        + 'missing some time after it was paid has its purchase-paid event sent again.',
      request: { body: jsonContent(PlacedQuery) },
      responses: {
        200: { description: 'The ids of those that exist', ...jsonContent(z.object({ placed: z.array(z.string()) })) },
        400: problemResponse('VALIDATION_FAILED'),
      },
    }, handle(async (req, res) => {
      res.json({ placed: await orders.placedAmong(parseInput(PlacedQuery, req.body).orderIds) });
    }))
    .router;
}
