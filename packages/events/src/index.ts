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

/**
 * user-service → every service: these sessions were logged out. Each service keeps a mark per session in its own
 * state (its sidecar's key prefix) for `ttlSeconds`, the longest an access token of the session could still live.
 */
export const SESSION_REVOKED_TOPIC = 'session-revoked';

export const sessionRevokedSchema = z.object({
  sessionIds: z.array(z.string().uuid()).min(1).max(500),
  revokedAt: z.string().datetime(),
  reason: z.string().min(1).max(100),
  ttlSeconds: z.number().int().min(1).max(86_400),
}).strict();

export type SessionRevoked = z.infer<typeof sessionRevokedSchema>;
