import { z } from 'zod';

export * from './scopes';

/** The events services publish to each other (Dapr pub/sub, CloudEvents): topic names and what `data` holds. */

/** purchase-service → order-service: a flash purchase was paid; exactly one order is made under `orderId`. */
export const PURCHASE_PAID_TOPIC = 'purchase-paid';

/** The publisher builds it with this type; the subscriber checks what arrives against the same schema. */
export const purchasePaidSchema = z.object({
  orderId: z.string().uuid(),
  purchaseId: z.string().uuid(),
  saleId: z.string().uuid(),
  productId: z.string().uuid(),
  buyerId: z.string().uuid(),
  quantity: z.number().int().min(1),
  price: z.number().int().min(0),
  paidAt: z.string().datetime(),
}).strict();

export type PurchasePaid = z.infer<typeof purchasePaidSchema>;
