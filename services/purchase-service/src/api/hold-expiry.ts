import { Router } from 'express';
import { handle, z, type Metrics, type OpenAPIRegistry } from '@flash/http';
import type { Purchasing } from '../domain/purchasing';

/** The Dapr cron binding `hold-expiry` (dapr/components/hold-expiry.yaml) calls this every second. */
export function holdExpiryRouter(purchasing: Purchasing, docs: OpenAPIRegistry, metrics: Metrics): Router {
  const expired = metrics.counter('holds_expired_total', 'Held purchases expired, their units returned');
  docs.registerPath({
    method: 'post', path: '/hold-expiry', tags: ['scheduler (Dapr cron binding)'], summary: 'Expire held purchases past their hold',
    responses: { 200: { description: 'How many expired', content: { 'application/json': { schema: z.object({ expired: z.number() }) } } } },
  });
  const router = Router();
  router.post('/hold-expiry', handle(async (_req, res) => {
    const count = await purchasing.expireHolds();
    expired.inc(count);
    res.json({ expired: count });
  }));
  return router;
}
