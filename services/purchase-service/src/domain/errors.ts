import { AppError } from '@flash/http';

/**
 * One instance, answered to every buyer behind the last unit: the crowd meets it thousands of times a second, and an
 * error's stack trace (never shown for a 4xx) costs more than the rest of the refusal.
 */
const SOLD_OUT = new AppError(409, 'SOLD_OUT', 'Sold out', 'Every unit is sold or held; held units come back if their buyers do not pay.');

export const SaleErrors = {
  notOpen: (startsAt: Date) =>
    new AppError(403, 'SALE_NOT_OPEN', 'Sale not open yet', `The sale opens at ${startsAt.toISOString()}.`),
  ended: () => new AppError(403, 'SALE_ENDED', 'Sale ended', 'The sale has ended.'),
  soldOut: () => SOLD_OUT,
  limitReached: (limit: number) =>
    new AppError(409, 'LIMIT_REACHED', 'Limit reached', `You already hold or bought ${limit} unit${limit === 1 ? '' : 's'} of this sale.`),
  keyReused: () =>
    new AppError(422, 'IDEMPOTENCY_KEY_REUSED', 'Idempotency key reused', 'This Idempotency-Key was used for another sale.'),
  holdExpired: () => new AppError(410, 'HOLD_EXPIRED', 'Hold expired', 'The hold expired before payment; the unit went back to the sale.'),
  notPaid: (status: string) => new AppError(409, 'PURCHASE_NOT_PAID', 'Purchase not paid', `The purchase is ${status}.`),
  notHeld: (status: string) => new AppError(409, 'PURCHASE_NOT_HELD', 'Purchase not held', `The purchase is ${status}.`),
};
