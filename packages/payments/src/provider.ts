/** The payment provider adapter: what a card processor offers us. Every call carries an idempotency key. */

export interface ChargeRequest {
  /** Charging a key again answers what the first charge with that key got, and never charges twice. */
  key: string;
  amount: number;
  customerId: string;
  /** The shopper's payment token; test tokens force an outcome (see TEST_TOKENS). */
  token?: string;
}

export interface RefundRequest {
  /** Refunding with a key again answers the first refund with that key; a charge is refunded at most once. */
  key: string;
  /** The charge to give back; a charge that never happened is voided, so it cannot land later. */
  chargeKey: string;
}

export type ChargeResult = { approved: true; reference: string } | { approved: false; reason: string };
export interface RefundResult {
  reference: string;
  /** What went back to the customer: the charged amount, or 0 when the charge was declined or never landed. */
  amount: number;
}

/** What the provider's own book says about a charge (for reconciliation). */
export interface Statement {
  charged: number;
  refunded: number;
}

/** A provider call that did not work: nothing changed, the caller may try again with the same key. */
export class ProviderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderError';
  }
}

export interface PaymentProvider {
  /** Abandons the call when `signal` aborts; the charge may still have landed (ask again with the same key). */
  charge(request: ChargeRequest, signal: AbortSignal): Promise<ChargeResult>;
  /** Throws ProviderError when the refund did not happen. */
  refund(request: RefundRequest, signal: AbortSignal): Promise<RefundResult>;
  statements(chargeKeys: string[]): Promise<Map<string, Statement>>;
}

/** Payment tokens the simulated provider honours, like a card processor's test cards. */
export const TEST_TOKENS = {
  /** Approved. */
  approve: 'tok_approve',
  /** Declined by the card issuer. */
  decline: 'tok_decline',
  /** Charged, but the answer never comes back before the caller's timeout. */
  timeout: 'tok_timeout',
  /** Approved; its refund fails twice, then is made but answers too late, then answers. */
  refundFlaky: 'tok_refund_flaky',
} as const;
