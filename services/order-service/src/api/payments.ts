import type { Router } from 'express';
import { adminOnlyResponses, bearerAuth, type Authenticator } from '@flash/auth';
import { ApiRoutes, handle, jsonContent, parseInput, problemResponse, z, type ApiTag, type OpenAPIRegistry } from '@flash/http';
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

const PAYMENTS_ADMIN: ApiTag = { name: 'payments (admin)', description: 'For operators: does the money agree with the orders?' };

/** The operator's check that money and orders agree. */
export function paymentsRouter(refunds: Refunds, auth: Authenticator, docs: OpenAPIRegistry): Router {
  return new ApiRoutes(docs, PAYMENTS_ADMIN)
    .get('/api/admin/payments/invariant', {
      operationId: 'checkMoneyInvariant', summary: 'Check that money charged minus money refunded equals the orders that still stand',
      security: bearerAuth(docs),
      description: "For the whole shop, one user (`userId`) or one flash sale (`saleId`), by the payment provider's book. `consistent` "
        + 'when balanced, settled (no refund pending, no checkout still being charged) and every payment agrees with the provider.',
      request: { query: Scope },
      responses: {
        200: { description: 'The check', ...jsonContent(InvariantSchema) },
        400: problemResponse('VALIDATION_FAILED'),
        ...adminOnlyResponses,
      },
    }, auth.requireAdmin, handle(async (req, res) => {
      const scope = parseInput(Scope, req.query);
      res.json({ scope, ...(await refunds.invariant(scope)) });
    }))
    .router;
}
