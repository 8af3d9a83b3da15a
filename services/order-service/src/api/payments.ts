import { Router } from 'express';
import { bearerAuth, type Authenticator } from '@flash/auth';
import { handle, jsonContent, parseInput, problemResponse, z, type OpenAPIRegistry } from '@flash/http';
import type { Refunds } from '../domain/refunds';

const Scope = z.object({
  userId: z.string().uuid('must be a user id').optional(),
  saleId: z.string().uuid('must be a flash sale id').optional(),
}).strict();

const InvariantSchema = z.object({
  scope: z.object({ userId: z.string().optional(), saleId: z.string().optional() }),
  charged: z.number(), refunded: z.number(), standing: z.number(),
  refundsPending: z.object({ count: z.number(), amount: z.number() }), chargesPending: z.number(),
  mismatched: z.array(z.string()), balanced: z.boolean(), settled: z.boolean(), consistent: z.boolean(),
}).openapi('MoneyInvariant');

/** The operator's check that money and orders agree. */
export function paymentsRouter(refunds: Refunds, auth: Authenticator, docs: OpenAPIRegistry): Router {
  docs.registerPath({
    method: 'get', path: '/api/admin/payments/invariant', tags: ['payments'], security: bearerAuth(docs),
    summary: "Money invariant: charged − refunded (by the provider's book) = value of the orders that still stand",
    description: 'For the whole shop, one user (`userId`) or one flash sale (`saleId`). `consistent` when balanced, settled (no refund pending, '
      + 'no checkout still being charged) and every payment agrees with the provider.',
    request: { query: Scope },
    responses: {
      200: { description: 'The invariant', ...jsonContent(InvariantSchema) },
      400: problemResponse('VALIDATION_FAILED'), 401: problemResponse('not logged in'), 403: problemResponse('admins only'),
    },
  });
  const router = Router();
  router.get('/api/admin/payments/invariant', auth.requireAdmin, handle(async (req, res) => {
    const scope = parseInput(Scope, req.query);
    res.json({ scope, ...(await refunds.invariant(scope)) });
  }));
  return router;
}
