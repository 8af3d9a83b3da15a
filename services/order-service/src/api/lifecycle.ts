import { Router } from 'express';
import { handle, z, type Metrics, type OpenAPIRegistry } from '@flash/http';
import type { Orders } from '../domain/orders';

/** The Dapr cron binding `order-lifecycle` (dapr/components/order-lifecycle.yaml) calls this every second. */
export function lifecycleRouter(orders: Orders, docs: OpenAPIRegistry, metrics: Metrics): Router {
  const moved = metrics.counter('order_transitions_total', 'Order transitions made by the scheduler');
  docs.registerPath({
    method: 'post', path: '/order-lifecycle', tags: ['scheduler (Dapr cron binding)'], summary: 'Move orders whose next step is due',
    responses: { 200: { description: 'What moved', content: { 'application/json': { schema: z.object({}).passthrough() } } } },
  });
  const router = Router();
  router.post('/order-lifecycle', handle(async (_req, res) => {
    const run = await orders.runScheduler();
    moved.inc(run.moved);
    res.json(run);
  }));
  return router;
}
