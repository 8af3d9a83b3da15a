import { subscription, type Subscription } from '@flash/dapr';
import { REFUND_REQUESTED_TOPIC, refundRequestedSchema } from '@flash/events';
import type { Refunds } from '../domain/refunds';

/**
 * Refunds asked by this service (cancel, return) and by purchase-service (a flash charge without an order). The
 * request is recorded before the first attempt; a failed attempt is retried by the scheduler with backoff, so the
 * event itself is acknowledged. A redelivered event finds the refund recorded and refunds nothing twice; one that
 * does not match the schema is refused and dead-lettered.
 */
export function refundRequestedSubscription(refunds: Refunds): Subscription {
  return subscription({
    topic: REFUND_REQUESTED_TOPIC,
    deadLetterTopic: `${REFUND_REQUESTED_TOPIC}-dead`,
    schema: refundRequestedSchema,
    handle: async (event) => {
      await refunds.requested(event.data);
    },
  });
}
