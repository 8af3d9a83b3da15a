import { Router } from 'express';
import { bearerAuth, principalOf, type Authenticator } from '@flash/auth';
import { handle, jsonContent, parseInput, problemResponse, z, type Metrics, type OpenAPIRegistry } from '@flash/http';
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

export const orderView = ({ order, items, transitions }: OrderDetails) => ({
  id: order.id, source: order.source, status: order.status, total: order.total, placedAt: order.placedAt.toISOString(),
  deliveredAt: order.deliveredAt?.toISOString() ?? null,
  items: items.map((i) => ({ productId: i.productId, quantity: i.quantity, price: i.price, saleId: i.saleId })),
  transitions: transitions.map((t) => ({ from: t.fromStatus, to: t.toStatus, at: t.at.toISOString() })),
});

export function ordersRouter(orders: Orders, auth: Authenticator, docs: OpenAPIRegistry, metrics: Metrics): Router {
  const placed = metrics.counter('orders_placed_total', 'Orders placed by source', ['source']);
  const security = bearerAuth(docs);
  const tags = ['orders'];
  const mine = { 401: problemResponse('not logged in'), 404: problemResponse('NOT_FOUND (or not yours)') };
  docs.registerPath({
    method: 'post', path: '/api/orders', tags, security, summary: 'Regular checkout: stock is reserved, then committed with the order',
    request: { body: jsonContent(CheckoutBody) },
    responses: {
      201: { description: 'Placed', ...jsonContent(OrderSchema) },
      400: problemResponse('VALIDATION_FAILED'),
      401: problemResponse('not logged in'),
      409: problemResponse('INSUFFICIENT_STOCK: nothing was created, nothing stays reserved'),
    },
  });
  docs.registerPath({
    method: 'get', path: '/api/orders', tags, security, summary: 'My orders (for my page)',
    responses: { 200: { description: 'Newest first', ...jsonContent(z.object({ items: z.array(OrderSchema) })) }, 401: problemResponse('not logged in') },
  });
  docs.registerPath({
    method: 'get', path: '/api/orders/{id}', tags, security, summary: 'An order with its history of transitions',
    request: { params: OrderParams }, responses: { 200: { description: 'The order', ...jsonContent(OrderSchema) }, ...mine },
  });
  docs.registerPath({
    method: 'post', path: '/api/orders/{id}/cancel', tags, security, summary: 'Cancel before shipping; the quantity goes back to stock',
    request: { params: OrderParams },
    responses: { 200: { description: 'Cancelled', ...jsonContent(OrderSchema) }, ...mine, 409: problemResponse('ORDER_NOT_CANCELLABLE') },
  });
  docs.registerPath({
    method: 'post', path: '/api/orders/{id}/return', tags, security, summary: 'Ask for a return within a day of delivery; completes a day later',
    request: { params: OrderParams },
    responses: { 200: { description: 'Return requested', ...jsonContent(OrderSchema) }, ...mine, 409: problemResponse('RETURN_NOT_ALLOWED') },
  });

  const router = Router();
  router.post('/api/orders', auth.requireUser, handle(async (req, res) => {
    const { items } = parseInput(CheckoutBody, req.body);
    const order = await orders.checkout(principalOf(res).userId, items);
    placed.inc({ source: 'REGULAR' });
    res.status(201).location(`/api/orders/${order.order.id}`).json(orderView(order));
  }));
  router.get('/api/orders', auth.requireUser, handle(async (_req, res) => {
    res.json({ items: (await orders.mine(principalOf(res).userId)).map(orderView) });
  }));
  router.get('/api/orders/:id', auth.requireUser, handle(async (req, res) => {
    res.json(orderView(await orders.get(principalOf(res).userId, parseInput(OrderParams, req.params).id)));
  }));
  router.post('/api/orders/:id/cancel', auth.requireUser, handle(async (req, res) => {
    res.json(orderView(await orders.cancel(principalOf(res).userId, parseInput(OrderParams, req.params).id)));
  }));
  router.post('/api/orders/:id/return', auth.requireUser, handle(async (req, res) => {
    res.json(orderView(await orders.requestReturn(principalOf(res).userId, parseInput(OrderParams, req.params).id)));
  }));
  return router;
}
