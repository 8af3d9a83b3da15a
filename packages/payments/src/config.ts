import type { Dapr } from '@flash/dapr';
import { z } from '@flash/http';
import { Payments } from './gateway';
import { SimulatedPaymentProvider, type BookEntry } from './simulated';

/** The payment settings of every service that charges or refunds. */
export const paymentConfigShape = {
  /** The simulated provider: share of charges declined, of refund attempts failing, of answers lost (timeouts). */
  PAYMENT_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
  PAYMENT_REFUND_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
  PAYMENT_TIMEOUT_RATE: z.coerce.number().min(0).max(1).default(0),
  PAYMENT_LATENCY_MS: z.coerce.number().int().min(0).max(10_000).default(20),
  PAYMENT_SEED: z.string().default('flash-sale'),
  /** How long we wait for the provider before a charge counts as timed out (and a refund is tried again). */
  PAYMENT_TIMEOUT_MS: z.coerce.number().int().min(50).max(8000).default(3000),
};

export interface PaymentConfig {
  PAYMENT_FAILURE_RATE: number;
  PAYMENT_REFUND_FAILURE_RATE: number;
  PAYMENT_TIMEOUT_RATE: number;
  PAYMENT_LATENCY_MS: number;
  PAYMENT_SEED: string;
  PAYMENT_TIMEOUT_MS: number;
}

/** The simulated provider's book: a state store of its own, shared by purchase- and order-service (dapr/components). */
export const PAYMENT_BOOK_STORE = 'paymentbook';

/** The payments of a service: the simulated provider (its book in PAYMENT_BOOK_STORE) behind the timeout-bounded adapter. */
export function paymentsFrom(config: PaymentConfig, dapr: Dapr): Payments {
  const provider = new SimulatedPaymentProvider(dapr.state<BookEntry>(PAYMENT_BOOK_STORE), {
    failureRate: config.PAYMENT_FAILURE_RATE,
    refundFailureRate: config.PAYMENT_REFUND_FAILURE_RATE,
    timeoutRate: config.PAYMENT_TIMEOUT_RATE,
    latencyMs: config.PAYMENT_LATENCY_MS,
    seed: config.PAYMENT_SEED,
  });
  return new Payments(provider, { timeoutMs: config.PAYMENT_TIMEOUT_MS });
}
