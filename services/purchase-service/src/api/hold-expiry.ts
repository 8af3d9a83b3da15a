import type { Router } from 'express';
import { ApiRoutes, handle, jsonContent, SCHEDULER_TAG, z, type Metrics, type OpenAPIRegistry } from '@flash/http';
import type { Purchasing } from '../domain/purchasing';

/** The route Dapr calls for the cron binding `hold-expiry` (dapr/components/hold-expiry.yaml), every second. */
export const HOLD_EXPIRY_ROUTE = '/hold-expiry';

export function holdExpiryRouter(purchasing: Purchasing, docs: OpenAPIRegistry, metrics: Metrics): Router {
  const expired = metrics.counter('holds_expired_total', 'Held purchases expired, their units returned');
  return new ApiRoutes(docs, SCHEDULER_TAG).post(HOLD_EXPIRY_ROUTE, {
    operationId: 'expireHolds', summary: 'Expire held purchases past their hold',
    description: 'Each expired hold gives its unit back to the sale exactly once.',
    responses: { 200: { description: 'How many expired', ...jsonContent(z.object({ expired: z.number().int() })) } },
  }, handle(async (_req, res) => {
    const count = await purchasing.expireHolds();
    expired.inc(count);
    res.json({ expired: count });
  })).router;
}
