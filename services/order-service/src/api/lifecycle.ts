import type { Router } from 'express';
import { ApiRoutes, handle, jsonContent, SCHEDULER_TAG, z, type Metrics, type OpenAPIRegistry } from '@flash/http';
import type { Orders } from '../domain/orders';

/** The route Dapr calls for the cron binding `order-lifecycle` (dapr/components/order-lifecycle.yaml), every second. */
export const ORDER_LIFECYCLE_ROUTE = '/order-lifecycle';

export function lifecycleRouter(orders: Orders, docs: OpenAPIRegistry, metrics: Metrics): Router {
  const moved = metrics.counter('order_transitions_total', 'Order transitions made by the scheduler');
  return new ApiRoutes(docs, SCHEDULER_TAG).post(ORDER_LIFECYCLE_ROUTE, {
    operationId: 'runOrderLifecycle', summary: 'Move orders whose next step is due',
    description: 'Ships, delivers and completes returns that are due, and retries unfinished restocks and commits.',
    responses: { 200: { description: 'What moved', ...jsonContent(z.object({}).passthrough()) } },
  }, handle(async (_req, res) => {
    const run = await orders.runScheduler();
    moved.inc(run.moved);
    res.json(run);
  })).router;
}
