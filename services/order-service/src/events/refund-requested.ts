import type { Subscription } from '@flash/dapr';
import { REFUND_REQUESTED_TOPIC, type RefundRequested } from '@flash/events';
import type { Refunds } from '../domain/refunds';

/**
 * Refunds asked by this service (cancel, return) and by purchase-service (a flash charge without an order). The
 * request is recorded before the first attempt; a failed attempt is retried by the scheduler with backoff, so the
 * event itself is acknowledged. A redelivered event finds the refund recorded and refunds nothing twice.
 */
export function refundRequestedSubscription(refunds: Refunds): Subscription {
  return {
    topic: REFUND_REQUESTED_TOPIC,
    deadLetterTopic: `${REFUND_REQUESTED_TOPIC}-dead`,
    handle: async (event) => {
      await refunds.requested(event.data as RefundRequested);
    },
  };
}
