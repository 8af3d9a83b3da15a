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
}
