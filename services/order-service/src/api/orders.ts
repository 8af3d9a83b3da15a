import type { Request, Router } from 'express';
import { bearerAuth, principalOf, userOnlyResponses, type Authenticator } from '@flash/auth';
import { ApiRoutes, handle, jsonContent, parseInput, problemResponse, z, type ApiTag, type Metrics, type OpenAPIRegistry } from '@flash/http';
import type { Orders } from '../domain/orders';
import type { OrderDetails } from '../domain/ports';

const CheckoutBody = z
  .object({
    items: z.array(z.object({
      productId: z.string().uuid('must be a product id'),
      quantity: z.number().int('must be a whole number').min(1, 'must be at least 1').max(100),
    }).strict()).min(1, 'needs at least one item').max(20)
      .refine((items) => new Set(items.map((i) => i.productId)).size === items.length, 'each product once'),
  })
  .strict()
  .openapi('Checkout');
const OrderParams = z.object({ id: z.string().uuid('must be an order id') });

export const OrderSchema = z
  .object({
    id: z.string(), source: z.enum(['FLASH', 'REGULAR']),
    status: z.enum(['PLACED', 'SHIPPING', 'DELIVERED', 'CANCELLED', 'RETURN_REQUESTED', 'RETURNED']),
    total: z.number(), placedAt: z.string(), deliveredAt: z.string().nullable(),
    items: z.array(z.object({ productId: z.string(), quantity: z.number(), price: z.number(), saleId: z.string().nullable() })),
    transitions: z.array(z.object({ from: z.string().nullable(), to: z.string(), at: z.string() })),
  })
  .openapi('Order');

const ORDERS: ApiTag = { name: 'orders', description: 'Regular checkout, my orders, cancel and return' };

export const orderView = ({ order, items, transitions }: OrderDetails) => ({
  id: order.id, source: order.source, status: order.status, total: order.total, placedAt: order.placedAt.toISOString(),
  deliveredAt: order.deliveredAt?.toISOString() ?? null,
  items: items.map((i) => ({ productId: i.productId, quantity: i.quantity, price: i.price, saleId: i.saleId })),
  transitions: transitions.map((t) => ({ from: t.fromStatus, to: t.toStatus, at: t.at.toISOString() })),
});

export function ordersRouter(orders: Orders, auth: Authenticator, docs: OpenAPIRegistry, metrics: Metrics): Router {
  const placed = metrics.counter('orders_placed_total', 'Orders placed by source', ['source']);
  const security = bearerAuth(docs);
  const mine = { ...userOnlyResponses, 400: problemResponse('VALIDATION_FAILED: not an order id'), 404: problemResponse('NOT_FOUND (or not yours)') };
  const byId = (req: Request) => parseInput(OrderParams, req.params).id;
  return new ApiRoutes(docs, ORDERS)
    .post('/api/orders', {
      operationId: 'placeOrder', summary: 'Regular checkout', security,
      description: 'Every line is reserved; if one is short, nothing is created and nothing stays reserved (409). Otherwise the order is placed and the stock committed.',
      request: { body: jsonContent(CheckoutBody) },
      responses: {
        201: { description: 'Placed', ...jsonContent(OrderSchema) },
        400: problemResponse('VALIDATION_FAILED'),
        ...userOnlyResponses,
        409: problemResponse('INSUFFICIENT_STOCK: nothing was created, nothing stays reserved'),
      },
    }, auth.requireUser, handle(async (req, res) => {
      const { items } = parseInput(CheckoutBody, req.body);
      const order = await orders.checkout(principalOf(res).userId, items);
      placed.inc({ source: 'REGULAR' });
      res.status(201).location(`/api/orders/${order.order.id}`).json(orderView(order));
    }))
    .get('/api/orders', {
      operationId: 'listMyOrders', summary: 'My orders', security,
      description: "The caller's orders, regular and from flash sales, newest first.",
      responses: { 200: { description: 'Newest first', ...jsonContent(z.object({ items: z.array(OrderSchema) })) }, ...userOnlyResponses },
    }, auth.requireUser, handle(async (_req, res) => {
      res.json({ items: (await orders.mine(principalOf(res).userId)).map(orderView) });
    }))
    .get('/api/orders/{id}', {
      operationId: 'getOrder', summary: 'An order with its history of transitions', security,
      description: 'PLACED → SHIPPING a day after the order → DELIVERED two days after it; every transition with its time.',
      request: { params: OrderParams }, responses: { 200: { description: 'The order', ...jsonContent(OrderSchema) }, ...mine },
    }, auth.requireUser, handle(async (req, res) => {
      res.json(orderView(await orders.get(principalOf(res).userId, byId(req))));
    }))
    .post('/api/orders/{id}/cancel', {
      operationId: 'cancelOrder', summary: 'Cancel an order before it ships', security,
      description: 'Only while PLACED; the quantity goes back to stock (or to its flash sale) exactly once.',
      request: { params: OrderParams },
      responses: { 200: { description: 'Cancelled', ...jsonContent(OrderSchema) }, ...mine, 409: problemResponse('ORDER_NOT_CANCELLABLE') },
    }, auth.requireUser, handle(async (req, res) => {
      res.json(orderView(await orders.cancel(principalOf(res).userId, byId(req))));
    }))
    .post('/api/orders/{id}/return', {
      operationId: 'returnOrder', summary: 'Ask for a return', security,
      description: 'Only while DELIVERED and within a day of delivery; the return completes a day later and the quantity goes back once.',
      request: { params: OrderParams },
      responses: { 200: { description: 'Return requested', ...jsonContent(OrderSchema) }, ...mine, 409: problemResponse('RETURN_NOT_ALLOWED') },
    }, auth.requireUser, handle(async (req, res) => {
      res.json(orderView(await orders.requestReturn(principalOf(res).userId, byId(req))));
    }))
    .router;
}
