import { Router } from 'express';
import { bearerAuth, principalOf, type Authenticator } from '@flash/auth';
import { handle, jsonContent, parseInput, problemResponse, z, type OpenAPIRegistry } from '@flash/http';
import { PaymentToken } from '@flash/payments';
import type { WishlistItem } from '../domain/order';
import type { Wishlist } from '../domain/wishlist';
import { OrderSchema, orderView } from './orders';

const quantity = z.number().int('must be a whole number').min(1, 'must be at least 1').max(100);
const AddBody = z.object({ productId: z.string().uuid('must be a product id'), quantity: quantity.default(1) }).strict().openapi('WishlistAdd');
const QuantityBody = z.object({ quantity }).strict().openapi('WishlistQuantity');
const ItemParams = z.object({ itemId: z.string().uuid('must be a wishlist item id') });
const OrderBody = z.object({ paymentToken: PaymentToken.optional() }).strict().openapi('WishlistOrder');
export const WishlistItemSchema = z
  .object({ itemId: z.string(), productId: z.string(), productName: z.string(), quantity: z.number(), addedAt: z.string() })
  .openapi('WishlistItem');

export const wishlistView = (i: WishlistItem) => ({
  itemId: i.id, productId: i.productId, productName: i.productName, quantity: i.quantity, addedAt: i.addedAt.toISOString(),
});

export function wishlistRouter(wishlist: Wishlist, auth: Authenticator, docs: OpenAPIRegistry): Router {
  const security = bearerAuth(docs);
  const tags = ['wishlist'];
  const mine = { 401: problemResponse('not logged in'), 404: problemResponse('NOT_FOUND (or not yours)') };
  docs.registerPath({
    method: 'get', path: '/api/wishlist', tags, security, summary: 'My wishlist (for my page)',
    responses: { 200: { description: 'Items', ...jsonContent(z.object({ items: z.array(WishlistItemSchema) })) }, 401: problemResponse('not logged in') },
  });
  docs.registerPath({
    method: 'post', path: '/api/wishlist', tags, security, summary: 'Add a product (adds to its quantity if already there)',
    request: { body: jsonContent(AddBody) },
    responses: { 201: { description: 'On the list', ...jsonContent(WishlistItemSchema) }, 400: problemResponse('VALIDATION_FAILED'), 401: problemResponse('not logged in') },
  });
  docs.registerPath({
    method: 'patch', path: '/api/wishlist/{itemId}', tags, security, summary: 'Change the quantity',
    request: { params: ItemParams, body: jsonContent(QuantityBody) },
    responses: { 200: { description: 'Changed', ...jsonContent(WishlistItemSchema) }, 400: problemResponse('VALIDATION_FAILED'), ...mine },
  });
  docs.registerPath({
    method: 'delete', path: '/api/wishlist/{itemId}', tags, security, summary: 'Remove', request: { params: ItemParams },
    responses: { 204: { description: 'Removed' }, ...mine },
  });
  docs.registerPath({
    method: 'post', path: '/api/wishlist/{itemId}/order', tags, security, summary: 'Order the item (regular checkout, paid) and remove it',
    request: { params: ItemParams, body: { ...jsonContent(OrderBody), required: false } },
    responses: {
      201: { description: 'Placed', ...jsonContent(OrderSchema) }, ...mine, 402: problemResponse('PAYMENT_FAILED: the item stays'),
      409: problemResponse('INSUFFICIENT_STOCK: the item stays'), 504: problemResponse('PAYMENT_TIMEOUT: the item stays'),
    },
  });

  const router = Router();
  router.get('/api/wishlist', auth.requireUser, handle(async (_req, res) => {
    res.json({ items: (await wishlist.list(principalOf(res).userId)).map(wishlistView) });
  }));
  router.post('/api/wishlist', auth.requireUser, handle(async (req, res) => {
    const { productId, quantity: count } = parseInput(AddBody, req.body);
    res.status(201).json(wishlistView(await wishlist.add(principalOf(res).userId, productId, count)));
  }));
  router.patch('/api/wishlist/:itemId', auth.requireUser, handle(async (req, res) => {
    const { itemId } = parseInput(ItemParams, req.params);
    res.json(wishlistView(await wishlist.setQuantity(principalOf(res).userId, itemId, parseInput(QuantityBody, req.body).quantity)));
  }));
  router.delete('/api/wishlist/:itemId', auth.requireUser, handle(async (req, res) => {
    await wishlist.remove(principalOf(res).userId, parseInput(ItemParams, req.params).itemId);
    res.status(204).end();
  }));
  router.post('/api/wishlist/:itemId/order', auth.requireUser, handle(async (req, res) => {
    const { paymentToken } = parseInput(OrderBody, req.body ?? {});
    const order = await wishlist.order(principalOf(res).userId, parseInput(ItemParams, req.params).itemId, paymentToken);
    res.status(201).location(`/api/orders/${order.order.id}`).json(orderView(order));
  }));
  return router;
}
