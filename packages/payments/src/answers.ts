import { AppError, z } from '@flash/http';
import { TEST_TOKENS } from './provider';

/** The shopper's payment token in a request body (optional: without one, the provider decides as configured). */
export const PaymentToken = z.string().min(1).max(100).regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
  .describe(`Test tokens force an outcome: ${Object.values(TEST_TOKENS).join(', ')}`);


/** The answers both purchase-service and order-service give when a charge does not go through. */
export const PaymentErrors = {
  failed: (reason: string, after: string) =>
    new AppError(402, 'PAYMENT_FAILED', 'Payment failed', `The payment failed (${reason}); ${after}.`),
  timedOut: (after: string) =>
    new AppError(504, 'PAYMENT_TIMEOUT', 'Payment timed out',
      `The payment provider did not answer in time; ${after}, and any charge that landed is refunded. Nothing is charged twice.`),
};
