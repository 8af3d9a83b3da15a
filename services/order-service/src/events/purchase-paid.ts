import type { Subscription } from '@flash/dapr';
import { PURCHASE_PAID_TOPIC, type PurchasePaid } from '@flash/events';
import type { Orders } from '../domain/orders';

/** Paid flash purchases become orders; a redelivered event finds its order already there and changes nothing. */
export function purchasePaidSubscription(orders: Orders): Subscription {
  return {
    topic: PURCHASE_PAID_TOPIC,
    deadLetterTopic: `${PURCHASE_PAID_TOPIC}-dead`,
    handle: async (event) => {
      await orders.placeFlashOrder(event.data as PurchasePaid);
    },
  };
}
