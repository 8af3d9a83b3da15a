import type { Request, Router } from 'express';
import { bearerAuth, principalOf, userOnlyResponses, type Authenticator } from '@flash/auth';
import { ApiRoutes, handle, jsonContent, parseInput, problemResponse, z, type ApiTag, type OpenAPIRegistry } from '@flash/http';
import { PaymentToken } from '@flash/payments';
import { WISHLIST_MAX_QUANTITY, type WishlistItem } from '../domain/order';
import type { Wishlist } from '../domain/wishlist';
import { OrderSchema, orderView } from './orders';

const quantity = z.number().int('must be a whole number').min(1, 'must be at least 1').max(WISHLIST_MAX_QUANTITY);
const AddBody = z.object({ productId: z.string().uuid('must be a product id'), quantity: quantity.default(1) }).strict().openapi('WishlistAdd');
const QuantityBody = z.object({ quantity }).strict().openapi('WishlistQuantity');
const ItemParams = z.object({ itemId: z.string().uuid('must be a wishlist item id') });
const OrderBody = z.object({ paymentToken: PaymentToken.optional() }).strict().openapi('WishlistOrder');
export const WishlistItemSchema = z
  .object({ itemId: z.string(), productId: z.string(), productName: z.string(), quantity: z.number(), addedAt: z.string() })
  .openapi('WishlistItem');

const WISHLIST: ApiTag = { name: 'wishlist', description: 'Products kept for later; order one straight from the list' };

export const wishlistView = (i: WishlistItem) => ({
  itemId: i.id, productId: i.productId, productName: i.productName, quantity: i.quantity, addedAt: i.addedAt.toISOString(),
});

export function wishlistRouter(wishlist: Wishlist, auth: Authenticator, docs: OpenAPIRegistry): Router {
  const security = bearerAuth(docs);
  const mine = { ...userOnlyResponses, 400: problemResponse('VALIDATION_FAILED'), 404: problemResponse('NOT_FOUND (or not yours)') };
  const itemOf = (req: Request) => parseInput(ItemParams, req.params).itemId;
  return new ApiRoutes(docs, WISHLIST)
    .get('/api/wishlist', {
      operationId: 'listWishlist', summary: 'My wishlist', security,
      description: 'The products the caller keeps for later, with quantities.',
      responses: { 200: { description: 'Items', ...jsonContent(z.object({ items: z.array(WishlistItemSchema) })) }, ...userOnlyResponses },
    }, auth.requireUser, handle(async (_req, res) => {
      res.json({ items: (await wishlist.list(principalOf(res).userId)).map(wishlistView) });
    }))
    .post('/api/wishlist', {
      operationId: 'addToWishlist', summary: 'Add a product', security,
      description: `A product already on the list gets the quantity added to it, up to ${WISHLIST_MAX_QUANTITY} units.`,
      request: { body: jsonContent(AddBody) },
      responses: { 201: { description: 'On the list', ...jsonContent(WishlistItemSchema) }, 400: problemResponse('VALIDATION_FAILED'), ...userOnlyResponses },
    }, auth.requireUser, handle(async (req, res) => {
      const { productId, quantity: count } = parseInput(AddBody, req.body);
      res.status(201).json(wishlistView(await wishlist.add(principalOf(res).userId, productId, count)));
    }))
    .patch('/api/wishlist/{itemId}', {
      operationId: 'updateWishlistItem', summary: 'Change the quantity', security,
      description: 'Sets the quantity of one item of the caller\'s wishlist.',
      request: { params: ItemParams, body: jsonContent(QuantityBody) },
      responses: { 200: { description: 'Changed', ...jsonContent(WishlistItemSchema) }, ...mine },
    }, auth.requireUser, handle(async (req, res) => {
      res.json(wishlistView(await wishlist.setQuantity(principalOf(res).userId, itemOf(req), parseInput(QuantityBody, req.body).quantity)));
    }))
    .delete('/api/wishlist/{itemId}', {
      operationId: 'removeWishlistItem', summary: 'Remove an item', security,
      description: 'Removes one item from the caller\'s wishlist.',
      request: { params: ItemParams },
      responses: { 204: { description: 'Removed' }, ...mine },
    }, auth.requireUser, handle(async (req, res) => {
      await wishlist.remove(principalOf(res).userId, itemOf(req));
      res.status(204).end();
    }))
    .post('/api/wishlist/{itemId}/order', {
      operationId: 'orderWishlistItem', summary: 'Order an item and remove it from the wishlist', security,
      description: 'A regular checkout of the item\'s product and quantity, paid; when stock is short or the payment fails, nothing is '
        + 'ordered and the item stays.',
      request: { params: ItemParams, body: { ...jsonContent(OrderBody), required: false } },
      responses: {
        201: { description: 'Placed', ...jsonContent(OrderSchema) }, ...mine, 402: problemResponse('PAYMENT_FAILED: the item stays'),
        409: problemResponse('INSUFFICIENT_STOCK: the item stays'), 504: problemResponse('PAYMENT_TIMEOUT: the item stays'),
      },
    }, auth.requireUser, handle(async (req, res) => {
      const { paymentToken } = parseInput(OrderBody, req.body ?? {});
      const order = await wishlist.order(principalOf(res).userId, itemOf(req), paymentToken);
      res.status(201).location(`/api/orders/${order.order.id}`).json(orderView(order));
    }))
    .router;
}
