import { ProviderError, type ChargeRequest, type PaymentProvider, type RefundRequest, type Statement } from './provider';

export type ChargeOutcome =
  | { status: 'APPROVED'; reference: string }
  | { status: 'DECLINED'; reason: string }
  /** No answer in time (or the provider failed): the charge may have landed, so it must be voided or asked again. */
  | { status: 'TIMED_OUT'; reason: string };

export type RefundOutcome =
  | { status: 'REFUNDED'; reference: string; amount: number }
  /** Not refunded, or not known to be: try again later with the same key. */
  | { status: 'FAILED'; reason: string };

export interface PaymentsOptions {
  /** How long a charge or refund may take before we stop waiting. */
  timeoutMs: number;
}

/** The one way services pay and refund: the provider adapter, each call bounded by a timeout. */
export class Payments {
  constructor(
    private readonly provider: PaymentProvider,
    private readonly options: PaymentsOptions,
  ) {}

  async charge(request: ChargeRequest): Promise<ChargeOutcome> {
    try {
      const result = await this.bounded((signal) => this.provider.charge(request, signal));
      return result.approved ? { status: 'APPROVED', reference: result.reference } : { status: 'DECLINED', reason: result.reason };
    } catch (err) {
      return { status: 'TIMED_OUT', reason: reasonOf(err) };
    }
  }

  async refund(request: RefundRequest): Promise<RefundOutcome> {
    try {
      const result = await this.bounded((signal) => this.provider.refund(request, signal));
      return { status: 'REFUNDED', reference: result.reference, amount: result.amount };
    } catch (err) {
      return { status: 'FAILED', reason: reasonOf(err) };
    }
  }

  statements(chargeKeys: string[]): Promise<Map<string, Statement>> {
    return this.provider.statements(chargeKeys);
  }

  private async bounded<T>(call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(new ProviderError(`no answer within ${this.options.timeoutMs} ms`));
      }, this.options.timeoutMs);
    });
    try {
      // The race also covers a provider that ignores the signal.
      return await Promise.race([call(abort.signal), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
