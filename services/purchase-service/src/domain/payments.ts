export interface Charge {
  /** Idempotency key: charging the same key twice charges once. */
  key: string;
  amount: number;
  buyerId: string;
}

export type ChargeResult = { ok: true; reference: string } | { ok: false; reason: string };

/** The payment provider adapter; the default is simulated (see payments/simulated-provider.ts). */
export interface PaymentProvider {
  charge(charge: Charge): Promise<ChargeResult>;
  refund(key: string): Promise<void>;
}
