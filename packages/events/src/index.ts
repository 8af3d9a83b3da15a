/** The events services publish to each other (Dapr pub/sub, CloudEvents): topic names and what `data` holds. */

/** purchase-service → order-service: a flash purchase was paid; exactly one order is made under `orderId`. */
export const PURCHASE_PAID_TOPIC = 'purchase-paid';

export interface PurchasePaid {
  orderId: string;
  purchaseId: string;
  saleId: string;
  productId: string;
  buyerId: string;
  quantity: number;
  price: number;
  paidAt: string;
  /** The provider's reference of the charge (its idempotency key is the purchase id). */
  paymentReference: string;
}

/**
 * → order-service: give back the money of a charge, exactly once (refund key), retried until the provider confirms.
 * order-service requests refunds of cancelled and returned orders; purchase-service voids a flash charge whose answer
 * never came.
 */
export const REFUND_REQUESTED_TOPIC = 'refund-requested';

export interface RefundRequested {
  /** The charge's idempotency key (the order id, or the purchase id of a flash purchase). */
  paymentId: string;
  /** The refund's idempotency key at the provider. */
  refundKey: string;
  userId: string;
  saleId: string | null;
  amount: number;
  /** What the requester knows of the charge: PAID, or TIMED_OUT (it may or may not have landed). */
  charge: 'PAID' | 'TIMED_OUT';
  reason: string;
}
