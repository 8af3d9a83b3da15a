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
  /** The provider's reference of the charge (its key is the purchase id); absent in events from before payments were recorded. */
  paymentReference: z.string().min(1).max(100).optional(),
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

/**
 * → order-service: give back the money of a charge, exactly once (refund key), retried until the provider confirms.
 * order-service requests refunds of cancelled and returned orders; purchase-service voids a flash charge whose answer
 * never came.
 */
export const REFUND_REQUESTED_TOPIC = 'refund-requested';

export const refundRequestedSchema = z.object({
  /** The charge's idempotency key (the order id, or the purchase id of a flash purchase). */
  paymentId: z.string().uuid(),
  /** The refund's idempotency key at the provider. */
  refundKey: z.string().min(1).max(80),
  userId: z.string().uuid(),
  saleId: z.string().uuid().nullable(),
  amount: z.number().int().min(0),
  /** What the requester knows of the charge: PAID, or TIMED_OUT (it may or may not have landed). */
  charge: z.enum(['PAID', 'TIMED_OUT']),
  reason: z.string().min(1).max(100),
}).strict();

export type RefundRequested = z.infer<typeof refundRequestedSchema>;
