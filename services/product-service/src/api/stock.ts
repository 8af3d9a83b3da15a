import { Router } from 'express';
import { bearerAuth, type Authenticator } from '@flash/auth';
import { AppError, handle, jsonContent, parseInput, problemResponse, z, type Metrics, type OpenAPIRegistry } from '@flash/http';
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

/**
 * Stock: the admin endpoint behind the ingress, and the reservation operations other services call through Dapr
 * invocation (`/internal/...` is not routed by the ingress).
 */
export function stockRouter(stock: StockKeeper, auth: Authenticator, docs: OpenAPIRegistry, metrics: Metrics): Router {
  const reservations = metrics.counter('stock_reservations_total', 'Reservation calls by outcome', ['outcome']);
  const settled = metrics.counter('stock_settlements_total', 'Reservations committed or released', ['action']);
  const security = bearerAuth(docs);
  const internal = ['stock (Dapr invocation only)'];
  docs.registerPath({
    method: 'put', path: '/api/admin/products/{id}/stock', tags: ['catalog admin'], security,
    summary: 'Set the units free to sell (units held by reservations are not touched)',
    request: { params: ProductParams, body: jsonContent(StockBody) },
    responses: {
      200: { description: 'Stock now', ...jsonContent(StockLevelsView) },
      400: problemResponse('VALIDATION_FAILED'), 401: problemResponse('not logged in'), 403: problemResponse('FORBIDDEN'),
      404: problemResponse('NOT_FOUND'),
    },
  });
  docs.registerPath({
    method: 'post', path: '/internal/stock/reservations', tags: internal,
    summary: 'Hold units for a reservation id (idempotent: a retry never takes units twice)',
    request: { body: jsonContent(ReserveBody) },
    responses: {
      201: { description: 'Held until expiresAt unless committed or released', ...jsonContent(ReservationView) },
      400: problemResponse('VALIDATION_FAILED'), 404: problemResponse('NOT_FOUND'),
      409: problemResponse('INSUFFICIENT_STOCK or RESERVATION_CONFLICT'),
    },
  });
  for (const [action, summary] of [
    ['commit', 'Sell the held units'], ['release', 'Give the held units back'], ['restock', 'Take sold units back into stock'],
  ] as const) {
    docs.registerPath({
      method: 'post', path: `/internal/stock/reservations/{id}/${action}`, tags: internal, summary: `${summary} (idempotent)`,
      request: { params: ReservationParams },
      responses: {
        200: { description: 'The reservation now', ...jsonContent(ReservationView) },
        404: problemResponse('NOT_FOUND'), 409: problemResponse('RESERVATION_RELEASED, RESERVATION_COMMITTED or RESERVATION_NOT_SOLD'),
      },
    });
  }
  docs.registerPath({
    method: 'get', path: '/internal/stock/{id}', tags: internal, summary: 'Live stock levels of a product',
    request: { params: ProductParams },
    responses: { 200: { description: 'Levels', ...jsonContent(StockLevelsView) }, 404: problemResponse('NOT_FOUND') },
  });

  const router = Router();
  router.put('/api/admin/products/:id/stock', auth.requireAdmin, handle(async (req, res) => {
    const { id } = parseInput(ProductParams, req.params);
    res.json(levelsView(await stock.setAvailable(id, parseInput(StockBody, req.body).quantity)));
  }));
  router.post('/internal/stock/reservations', handle(async (req, res) => {
    const input = parseInput(ReserveBody, req.body);
    try {
      res.status(201).json(view(await stock.reserve(input.productId, input.quantity, input.reservationId, input.holdSeconds)));
      reservations.inc({ outcome: 'reserved' });
    } catch (err) {
      reservations.inc({ outcome: err instanceof AppError ? err.code : 'error' });
      throw err;
    }
  }));
  router.post('/internal/stock/reservations/:id/commit', handle(async (req, res) => {
    res.json(view(await stock.commit(parseInput(ReservationParams, req.params).id)));
    settled.inc({ action: 'commit' });
  }));
  router.post('/internal/stock/reservations/:id/release', handle(async (req, res) => {
    res.json(view(await stock.release(parseInput(ReservationParams, req.params).id)));
    settled.inc({ action: 'release' });
  }));
  router.post('/internal/stock/reservations/:id/restock', handle(async (req, res) => {
    res.json(view(await stock.returnSold(parseInput(ReservationParams, req.params).id)));
    settled.inc({ action: 'restock' });
  }));
  router.get('/internal/stock/:id', handle(async (req, res) => {
    const { id } = parseInput(ProductParams, req.params);
    res.json(levelsView(await stock.levels(id)));
  }));
  return router;
}
