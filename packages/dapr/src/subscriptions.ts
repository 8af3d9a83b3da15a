import { Router } from 'express';
import type { Logger } from 'pino';
import { z, type OpenAPIRegistry } from '@flash/http';
import type { Dapr } from './client';

/** The CloudEvent envelope Dapr delivers; `data` is what the publisher sent. */
export interface DeliveredEvent<T> {
  id: string;
  topic: string;
  type: string;
  source: string;
  data: T;
  traceparent?: string;
}

export interface Subscription<T = unknown> {
  topic: string;
  /** Where events go after the inbound retries of the Resiliency resource are used up, or when refused. */
  deadLetterTopic: string;
  /** The publisher's schema of `data`: an event that does not match is refused (dead-lettered) unhandled. */
  schema?: z.ZodType<T, z.ZodTypeDef, unknown>;
  /**
   * Throwing makes Dapr redeliver (RETRY); throwing EventRefused dead-letters it (DROP); returning acknowledges.
   * Handlers must be idempotent.
   */
  handle(event: DeliveredEvent<T>): Promise<void>;
}

/** Declares a subscription whose handler sees `data` as its schema's type (it is checked before the handler runs). */
export function subscription<T>(declared: Subscription<T> & { schema: z.ZodType<T, z.ZodTypeDef, unknown> }): Subscription {
  return declared as unknown as Subscription;
}

/** An event that must never be processed (forged, or about something that does not exist): Dapr dead-letters it. */
export class EventRefused extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'EventRefused';
  }
}

export const eventRoute = (topic: string) => `/events/${topic}`;

/**
 * Serves Dapr's programmatic subscription endpoint and one POST route per topic. A handler that throws answers
 * RETRY, never SUCCESS, so a failure is retried and finally dead-lettered instead of lost.
 */
export function subscriptionRouter(dapr: Dapr, pubsub: string, subscriptions: Subscription[], logger: Logger): Router {
  const router = Router();
  router.get('/dapr/subscribe', (_req, res) => {
    res.json(
      subscriptions.map((s) => ({
        pubsubname: pubsub,
        topic: dapr.topic(s.topic),
        route: eventRoute(s.topic),
        deadLetterTopic: dapr.topic(s.deadLetterTopic),
      })),
    );
  });
  for (const subscription of subscriptions) {
    router.post(eventRoute(subscription.topic), async (req, res) => {
      const event = req.body as DeliveredEvent<unknown>;
      try {
        const parsed = subscription.schema?.safeParse(event?.data);
        if (parsed && !parsed.success) throw new EventRefused(`data does not match the ${subscription.topic} schema: ${parsed.error.message}`);
        await subscription.handle(parsed ? { ...event, data: parsed.data } : event);
        res.json({ status: 'SUCCESS' });
      } catch (err) {
        if (err instanceof EventRefused) {
          logger.warn({ reason: err.message, topic: subscription.topic, eventId: event?.id }, 'event refused; Dapr dead-letters it');
          res.json({ status: 'DROP' });
          return;
        }
        logger.warn({ err, topic: subscription.topic, eventId: event?.id }, 'event handler failed; asking Dapr to retry');
        res.json({ status: 'RETRY' });
      }
    });
  }
  return router;
}

/** Describes the subscription routes in the service's OpenAPI document. */
export function documentSubscriptions(registry: OpenAPIRegistry, subscriptions: Subscription[]): void {
  if (subscriptions.length === 0) return;
  const status = z.object({ status: z.enum(['SUCCESS', 'RETRY', 'DROP']) });
  registry.registerPath({
    method: 'get', path: '/dapr/subscribe', tags: ['dapr'], summary: 'Subscriptions, read by the Dapr sidecar',
    responses: { 200: { description: 'subscriptions', content: { 'application/json': { schema: z.array(z.object({}).passthrough()) } } } },
  });
  for (const s of subscriptions) {
    registry.registerPath({
      method: 'post', path: eventRoute(s.topic), tags: ['dapr'], summary: `Delivery of ${s.topic} events by the Dapr sidecar`,
      request: { body: { content: { 'application/cloudevents+json': { schema: z.object({}).passthrough() } } } },
      responses: { 200: { description: 'processing status', content: { 'application/json': { schema: status } } } },
    });
  }
}
