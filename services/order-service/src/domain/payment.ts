import type { OrderSource, OrderStatus } from './order';

export type PaymentStatus = 'PENDING' | 'PAID' | 'DECLINED' | 'TIMED_OUT';
export type RefundStatus = 'PENDING' | 'REFUNDED';

/** A charge behind an order (its id is the charge's idempotency key and the order's id) and its one refund. */
export interface Payment {
  id: string;
  userId: string;
  saleId: string | null;
  orderId: string | null;
  source: OrderSource;
  /** Regular checkout: the shopper's Idempotency-Key and a hash of what they asked for. */
  idempotencyKey: string | null;
  requestHash: string | null;
  amount: number;
  status: PaymentStatus;
  reference: string | null;
  failure: string | null;
  createdAt: Date;
  refundKey: string | null;
  refundStatus: RefundStatus | null;
  refundReason: string | null;
  refundAmount: number | null;
  refundReference: string | null;
  refundRequestedAt: Date | null;
  refundedAt: Date | null;
  refundAttempts: number;
  refundNextAttemptAt: Date | null;
  refundError: string | null;
}

export interface RefundRequest {
  key: string;
  reason: string;
}

/** Leaving an order this way gives its money back, under a key that is the same however often it is asked. */
export function refundOnLeaving(orderId: string, to: OrderStatus): RefundRequest | undefined {
  if (to === 'CANCELLED') return { key: `cancel-${orderId}`, reason: 'order cancelled' };
  if (to === 'RETURNED') return { key: `return-${orderId}`, reason: 'return completed' };
  return undefined;
}

/** Money may still be taken under this charge, and nothing was asked back yet: a refund may be requested, once. */
export function mayRefund(payment: Payment): payment is Payment & { status: 'PAID' | 'TIMED_OUT' } {
  return payment.refundStatus === null && (payment.status === 'PAID' || payment.status === 'TIMED_OUT');
}

/** A payment as first recorded: no failure and no refund yet. */
export function newPayment(
  fields: Pick<Payment, 'id' | 'userId' | 'saleId' | 'orderId' | 'source' | 'amount' | 'status' | 'reference' | 'createdAt'>
    & Partial<Pick<Payment, 'idempotencyKey' | 'requestHash' | 'failure'>>,
): Payment {
  return {
    idempotencyKey: null, requestHash: null, failure: null, refundKey: null, refundStatus: null, refundReason: null, refundAmount: null,
    refundReference: null, refundRequestedAt: null, refundedAt: null, refundAttempts: 0, refundNextAttemptAt: null, refundError: null,
    ...fields,
  };
}

export interface MoneyScope {
  userId?: string;
  saleId?: string;
}

/** Charged − refunded must equal the value of the orders that still stand, once nothing is being charged or refunded. */
export interface MoneyInvariant {
  charged: number;
  refunded: number;
  standing: number;
  refundsPending: { count: number; amount: number };
  /** Checkouts still being charged: the provider may have taken money the books do not show yet. */
  chargesPending: number;
  /** Payments where our record and the provider's book disagree. */
  mismatched: string[];
  balanced: boolean;
  settled: boolean;
  consistent: boolean;
}

/** The invariant from payments (with the provider's statements) and the value of the standing orders. */
export function moneyInvariant(
  payments: Payment[],
  statements: Map<string, { charged: number; refunded: number }>,
  standing: number,
): MoneyInvariant {
  let charged = 0;
  let refunded = 0;
  const mismatched: string[] = [];
  const pending = payments.filter((p) => p.refundStatus === 'PENDING');
  for (const p of payments) {
    const book = statements.get(p.id) ?? { charged: 0, refunded: 0 };
    charged += book.charged;
    refunded += book.refunded;
    const refundAgrees = p.refundStatus === 'REFUNDED' ? book.refunded === p.refundAmount : p.refundStatus === null ? book.refunded === 0 : true;
    const chargeAgrees = p.status === 'PAID' ? book.charged === p.amount : p.status === 'DECLINED' ? book.charged === 0 : true;
    if (!refundAgrees || !chargeAgrees) mismatched.push(p.id);
  }
  const balanced = charged - refunded === standing;
  const charging = payments.filter((p) => p.status === 'PENDING').length;
  const settled = pending.length === 0 && charging === 0;
  return {
    charged, refunded, standing,
    refundsPending: { count: pending.length, amount: pending.reduce((sum, p) => sum + (p.refundAmount ?? 0), 0) },
    chargesPending: charging,
    mismatched, balanced, settled, consistent: balanced && settled && mismatched.length === 0,
  };
}
