import { EventRefused, subscription, type Subscription } from '@flash/dapr';
import { PURCHASE_PAID_TOPIC, purchasePaidSchema } from '@flash/events';
import type { Orders } from '../domain/orders';

/**
 * Paid flash purchases become orders; a redelivered event finds its order already there and changes nothing. An
 * event that does not match the publisher's schema, or names a purchase purchase-service does not confirm as paid,
 * is refused and dead-lettered.
 */
export function purchasePaidSubscription(orders: Orders): Subscription {
  return subscription({
    topic: PURCHASE_PAID_TOPIC,
    deadLetterTopic: `${PURCHASE_PAID_TOPIC}-dead`,
    schema: purchasePaidSchema,
    handle: async (event) => {
      if ((await orders.placeFlashOrder(event.data)) === 'not paid') {
        throw new EventRefused(`purchase ${event.data.purchaseId} is not a paid purchase with these details`);
      }
    },
  });
}
