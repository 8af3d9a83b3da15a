import type { Router } from 'express';
import { adminOnlyResponses, bearerAuth, type Authenticator } from '@flash/auth';
import { ApiRoutes, AppError, handle, jsonContent, parseInput, problemResponse, z, type ApiTag, type Metrics, type OpenAPIRegistry } from '@flash/http';
import { CATALOG_ADMIN } from './products';
import type { Reservation, StockKeeper, StockLevels } from '@flash/stock';

const quantity = z.number({ invalid_type_error: 'must be a whole number' }).int('must be a whole number');
const reservationId = z.string().min(1).max(64).regex(/^[A-Za-z0-9:_-]+$/, 'letters, digits, :, _ and - only');

const StockBody = z.object({ quantity: quantity.min(0, 'must not be negative').max(10_000_000) }).strict().openapi('StockSetting');
const ReserveBody = z
  .object({
    productId: z.string().uuid('must be a product id'),
    quantity: quantity.min(1, 'must be at least 1').max(10_000),
    reservationId,
    holdSeconds: z.number().int().min(1).max(24 * 3600).optional(),
  })
  .strict()
  .openapi('StockReservationRequest');
const ReservationParams = z.object({ id: reservationId });
const ProductParams = z.object({ id: z.string().uuid('must be a product id') });

const StockLevelsView = z.object({ productId: z.string(), available: z.number(), reserved: z.number(), sold: z.number() }).openapi('StockLevels');
const ReservationView = z
  .object({
    reservationId: z.string(), productId: z.string(), quantity: z.number(),
    status: z.enum(['RESERVED', 'COMMITTED', 'RELEASED', 'EXPIRED', 'RETURNED']), expiresAt: z.string(),
  })
  .openapi('StockReservation');

const levelsView = ({ stockId, ...levels }: StockLevels) => ({ productId: stockId, ...levels });

const view = (r: Reservation) => ({
  reservationId: r.id, productId: r.stockId, quantity: r.quantity, status: r.status, expiresAt: r.expiresAt.toISOString(),
});

const INTERNAL_STOCK: ApiTag = { name: 'stock (Dapr invocation only)', description: 'Reservations other services make through Dapr; not routed by the ingress' };

/**
 * Stock: the admin endpoint behind the ingress, and the reservation operations other services call through Dapr
 * invocation (`/internal/...` is not routed by the ingress).
 */
export function stockRouter(stock: StockKeeper, auth: Authenticator, docs: OpenAPIRegistry, metrics: Metrics): Router {
  const reservations = metrics.counter('stock_reservations_total', 'Reservation calls by outcome', ['outcome']);
  const settled = metrics.counter('stock_settlements_total', 'Reservations committed or released', ['action']);
  const security = bearerAuth(docs);
  const settle = (action: 'commit' | 'release' | 'restock', operationId: string, summary: string, apply: (id: string) => Promise<Reservation>) =>
    [`/internal/stock/reservations/{id}/${action}`, {
      operationId, summary: `${summary} (idempotent)`,
      description: 'Called by other services through Dapr invocation; a repeated call changes nothing.',
      request: { params: ReservationParams },
      responses: {
        200: { description: 'The reservation now', ...jsonContent(ReservationView) },
        404: problemResponse('NOT_FOUND'), 409: problemResponse('RESERVATION_RELEASED, RESERVATION_COMMITTED or RESERVATION_NOT_SOLD'),
      },
    }, handle(async (req, res) => {
      res.json(view(await apply(parseInput(ReservationParams, req.params).id)));
      settled.inc({ action });
    })] as const;
  return new ApiRoutes(docs, INTERNAL_STOCK)
    .put('/api/admin/products/{id}/stock', {
      operationId: 'setProductStock', summary: 'Set the units free to sell', security, tag: CATALOG_ADMIN,
      description: 'An absolute number of units free to sell; units held by reservations are not touched.',
      request: { params: ProductParams, body: jsonContent(StockBody) },
      responses: {
        200: { description: 'Stock now', ...jsonContent(StockLevelsView) },
        400: problemResponse('VALIDATION_FAILED'),
        404: problemResponse('NOT_FOUND'),
        ...adminOnlyResponses,
      },
    }, auth.requireAdmin, handle(async (req, res) => {
      const { id } = parseInput(ProductParams, req.params);
      res.json(levelsView(await stock.setAvailable(id, parseInput(StockBody, req.body).quantity)));
    }))
    .post('/internal/stock/reservations', {
      operationId: 'reserveStock', summary: 'Hold units for a reservation id',
      description: 'Idempotent: a retry with the same reservation id returns the same reservation and never takes units twice.',
      request: { body: jsonContent(ReserveBody) },
      responses: {
        201: { description: 'Held until expiresAt unless committed or released', ...jsonContent(ReservationView) },
        400: problemResponse('VALIDATION_FAILED'), 404: problemResponse('NOT_FOUND'),
        409: problemResponse('INSUFFICIENT_STOCK or RESERVATION_CONFLICT'),
      },
    }, handle(async (req, res) => {
      const input = parseInput(ReserveBody, req.body);
      try {
        res.status(201).json(view(await stock.reserve(input.productId, input.quantity, input.reservationId, input.holdSeconds)));
        reservations.inc({ outcome: 'reserved' });
      } catch (err) {
        reservations.inc({ outcome: err instanceof AppError ? err.code : 'error' });
        throw err;
      }
    }))
    .post(...settle('commit', 'commitStockReservation', 'Sell the held units', (id) => stock.commit(id)))
    .post(...settle('release', 'releaseStockReservation', 'Give the held units back', (id) => stock.release(id)))
    .post(...settle('restock', 'restockStockReservation', 'Take sold units back into stock', (id) => stock.returnSold(id)))
    .get('/internal/stock/{id}', {
      operationId: 'getStockLevels', summary: 'Live stock levels of a product',
      description: 'Units available, reserved and sold.',
      request: { params: ProductParams },
      responses: { 200: { description: 'Levels', ...jsonContent(StockLevelsView) }, 404: problemResponse('NOT_FOUND') },
    }, handle(async (req, res) => {
      const { id } = parseInput(ProductParams, req.params);
      res.json(levelsView(await stock.levels(id)));
    }))
    .router;
}
