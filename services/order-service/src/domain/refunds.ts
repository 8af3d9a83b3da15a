import type { RefundRequested } from '@flash/events';
import type { Payments } from '@flash/payments';
import { retryDelayMs } from '@flash/runtime';
import type { Clock } from './clock';
import { moneyInvariant, type MoneyInvariant, type MoneyScope } from './payment';
import type { PaymentStore } from './ports';

export interface RefundsOptions {
  /** Backoff between attempts of a refund the provider failed or did not answer: base, doubling, at most max. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Told the outcome of every attempt (metrics). */
  onAttempt?: (outcome: 'REFUNDED' | 'FAILED') => void;
  /** Wakes the job that retries refunds: a failed attempt is due again in so many ms. */
  retryDue?: (delayMs: number) => void;
}

/** Refunds one retry run attempts at most (at once). */
const RETRY_BATCH = 50;

/**
 * Pays out refunds recorded PENDING (with a cancellation, a completed return, or a charge that never became an
 * order): each under its own idempotency key, so the provider refunds once however often it is asked, and recorded
 * once with the provider's reference. Failures are tried again with backoff until the provider confirms.
 */
export class Refunds {
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(
    private readonly payments: PaymentStore,
    private readonly provider: Payments,
    private readonly clock: Clock,
    private readonly options: RefundsOptions,
  ) {}

  /** A `refund-requested` event (delivered at least once): recorded if new, then paid out. */
  async requested(request: RefundRequested): Promise<boolean> {
    await this.payments.requestRefund(request, this.clock.now());
    return this.settle(request.paymentId);
  }

  /** Refunds whose next attempt is due (the job); resolves how long until the next attempt of one still pending. */
  async settleDue(): Promise<{ refunded: number; failed: number; dueInMs?: number }> {
    const now = this.clock.now();
    const next = await this.payments.nextRefundAttempt();
    if (!next || next.getTime() > now.getTime()) return { refunded: 0, failed: 0, ...(next ? { dueInMs: next.getTime() - now.getTime() } : {}) };
    const due = await this.payments.refundsDue(now, RETRY_BATCH);
    const outcomes = await Promise.all(due.map((p) => this.settle(p.id)));
    const refunded = outcomes.filter(Boolean).length;
    // The next run finds when the next attempt is due (failed ones were put off with backoff).
    return { refunded, failed: outcomes.length - refunded, dueInMs: 0 };
  }

  /** One attempt; true once the refund is recorded. Concurrent calls in this process share one attempt. */
  settle(paymentId: string): Promise<boolean> {
    let attempt = this.inFlight.get(paymentId);
    if (!attempt) {
      attempt = this.attempt(paymentId).finally(() => this.inFlight.delete(paymentId));
      this.inFlight.set(paymentId, attempt);
    }
    return attempt;
  }

  async invariant(scope: MoneyScope): Promise<MoneyInvariant> {
    const payments = await this.payments.inScope(scope);
    const standing = await this.payments.standingValue(scope);
    return moneyInvariant(payments, await this.provider.statements(payments.map((p) => p.id)), standing);
  }

  private async attempt(paymentId: string): Promise<boolean> {
    const payment = await this.payments.byId(paymentId);
    if (!payment || payment.refundStatus !== 'PENDING') return payment?.refundStatus === 'REFUNDED';
    const outcome = await this.provider.refund({ key: payment.refundKey!, chargeKey: payment.id });
    this.options.onAttempt?.(outcome.status);
    const now = this.clock.now();
    if (outcome.status === 'REFUNDED') {
      await this.payments.refunded(payment.id, outcome, now);
      return true;
    }
    const delay = retryDelayMs(payment.refundAttempts + 1, this.options.retryBaseMs, this.options.retryMaxMs);
    await this.payments.refundFailed(payment.id, outcome.reason, new Date(now.getTime() + delay));
    this.options.retryDue?.(delay);
    return false;
  }
}
