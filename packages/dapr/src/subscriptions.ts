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
 *
 * Each subscription also receives its own dead letters, with the same handler. Dapr dead-letters an event whose
 * deliveries all failed, also when the app was only down for a while (its container restarting while the sidecar runs
 * on): such an event is handled once the app is back. The dead-letter subscription's own dead letters go to the same
 * topic, so an event keeps coming round until the app takes it: without a dead-letter topic, Dapr's Redis pub/sub
 * acknowledges an event whose deliveries failed, and it would be lost. An event refused again (EventRefused) is
 * acknowledged and logged as dropped, so it does not come round for ever.
 */
export function subscriptionRouter(dapr: Dapr, pubsub: string, subscriptions: Subscription[], logger: Logger): Router {
  const router = Router();
  router.get('/dapr/subscribe', (_req, res) => {
    res.json(
      subscriptions.flatMap((s) => [
        { pubsubname: pubsub, topic: dapr.topic(s.topic), route: eventRoute(s.topic), deadLetterTopic: dapr.topic(s.deadLetterTopic) },
        { pubsubname: pubsub, topic: dapr.topic(s.deadLetterTopic), route: eventRoute(s.deadLetterTopic), deadLetterTopic: dapr.topic(s.deadLetterTopic) },
      ]),
    );
  });
  for (const subscription of subscriptions) {
    for (const replay of [false, true]) {
      const topic = replay ? subscription.deadLetterTopic : subscription.topic;
      router.post(eventRoute(topic), async (req, res) => {
        const event = req.body as DeliveredEvent<unknown>;
        try {
          const parsed = subscription.schema?.safeParse(event?.data);
          if (parsed && !parsed.success) throw new EventRefused(`data does not match the ${subscription.topic} schema: ${parsed.error.message}`);
          await subscription.handle(parsed ? { ...event, data: parsed.data } : event);
          res.json({ status: 'SUCCESS' });
        } catch (err) {
          if (err instanceof EventRefused && replay) {
            logger.error({ reason: err.message, topic, eventId: event?.id }, 'dead letter refused again; dropped for good');
            res.json({ status: 'SUCCESS' });
            return;
          }
          if (err instanceof EventRefused) {
            logger.warn({ reason: err.message, topic, eventId: event?.id }, 'event refused; Dapr dead-letters it');
            res.json({ status: 'DROP' });
            return;
          }
          logger.warn({ err, topic, eventId: event?.id }, 'event handler failed; asking Dapr to retry');
          res.json({ status: 'RETRY' });
        }
      });
    }
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
    for (const [topic, summary] of [[s.topic, `Delivery of ${s.topic} events by the Dapr sidecar`], [s.deadLetterTopic, `Delivery of dead-lettered ${s.topic} events, once more`]]) {
      registry.registerPath({
        method: 'post', path: eventRoute(topic!), tags: ['dapr'], summary,
        request: { body: { content: { 'application/cloudevents+json': { schema: z.object({}).passthrough() } } } },
        responses: { 200: { description: 'processing status', content: { 'application/json': { schema: status } } } },
      });
    }
  }
}
