import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConcurrencyConflictError, type StateStore } from '@flash/dapr';
import {
  ProviderError, TEST_TOKENS, type ChargeRequest, type ChargeResult, type PaymentProvider, type RefundRequest, type RefundResult,
  type Statement,
} from './provider';

export interface SimulatedProviderOptions {
  /** Share of charges declined, and of refund attempts that fail. */
  failureRate: number;
  refundFailureRate: number;
  /** Share of calls whose effect happens but whose answer never arrives (the caller times out). */
  timeoutRate: number;
  latencyMs: number;
  /** Which calls fail follows from the seed and the key (and attempt), not from call order: runs repeat. */
  seed: string;
}

/** One charge in the simulated processor's book, with its refund. */
export interface BookEntry {
  status: 'CAPTURED' | 'DECLINED' | 'VOIDED';
  amount: number;
  customerId: string;
  token: string | null;
  reference: string;
  reason?: string;
  refund?: { key: string; amount: number; reference: string };
  refundAttempts: number;
}

const bookKey = (chargeKey: string) => `payment-${chargeKey}`;

/**
 * Stands in for a card processor. Its book lives in the Dapr state store, outside the calling services, as a real
 * processor's would: every service that pays or refunds sees the same charges, and a caller that dies mid-call
 * finds its charge or refund under the same key when it asks again.
 */
export class SimulatedPaymentProvider implements PaymentProvider {
  constructor(
    private readonly book: StateStore<BookEntry>,
    private readonly options: SimulatedProviderOptions,
  ) {}

  async charge(request: ChargeRequest, signal: AbortSignal): Promise<ChargeResult> {
    await sleep(this.options.latencyMs, undefined, { signal });
    const entry = this.decideCharge(request);
    if (!(await this.write(request.key, entry))) {
      // An earlier call with this key (or a void) was first: its outcome is the answer, at once.
      return answerOf((await this.book.get(bookKey(request.key)))!.value);
    }
    if (request.token === TEST_TOKENS.timeout || (!isTestToken(request.token) && this.draw(`timeout:${request.key}`) < this.options.timeoutRate)) {
      await never(signal);
    }
    return answerOf(entry);
  }

  async refund(request: RefundRequest, signal: AbortSignal): Promise<RefundResult> {
    await sleep(this.options.latencyMs, undefined, { signal });
    for (;;) {
      const found = await this.book.get(bookKey(request.chargeKey));
      if (!found) {
        // Nothing was charged under this key: void it, so a charge still on its way is refused.
        const voided: BookEntry = {
          status: 'VOIDED', amount: 0, customerId: '', token: null, reference: `sim-void-${request.chargeKey}`, refundAttempts: 1,
          refund: { key: request.key, amount: 0, reference: `sim-re-${request.key}` },
        };
        if (await this.write(request.chargeKey, voided)) return voided.refund!;
        continue;
      }
      const entry = found.value;
      if (entry.refund) {
        if (entry.refund.key === request.key) return entry.refund;
        throw new ProviderError(`charge ${request.chargeKey} was already refunded under another key`);
      }
      const attempt = entry.refundAttempts + 1;
      const fails = this.refundFails(entry, request.key, attempt);
      const next: BookEntry = {
        ...entry,
        refundAttempts: attempt,
        ...(fails ? {} : { refund: { key: request.key, amount: entry.status === 'CAPTURED' ? entry.amount : 0, reference: `sim-re-${request.key}` } }),
      };
      if (!(await this.write(request.chargeKey, next, found.etag))) continue;
      if (fails) throw new ProviderError('refund failed (simulated)');
      if (this.answerLost(entry, request.key, attempt)) await never(signal);
      return next.refund!;
    }
  }

  async statements(chargeKeys: string[]): Promise<Map<string, Statement>> {
    const statements = new Map<string, Statement>();
    for (let i = 0; i < chargeKeys.length; i += 100) {
      const chunk = chargeKeys.slice(i, i + 100);
      const found = await this.book.getMany(chunk.map(bookKey));
      for (const key of chunk) {
        const entry = found.get(bookKey(key))?.value;
        statements.set(key, {
          charged: entry?.status === 'CAPTURED' ? entry.amount : 0,
          refunded: entry?.refund?.amount ?? 0,
        });
      }
    }
    return statements;
  }

  private decideCharge({ key, amount, customerId, token }: ChargeRequest): BookEntry {
    const base = { amount, customerId, token: token ?? null, reference: `sim-ch-${key}`, refundAttempts: 0 };
    const declined = token === TEST_TOKENS.decline || (!isTestToken(token) && this.draw(`charge:${key}`) < this.options.failureRate);
    return declined ? { ...base, status: 'DECLINED', reason: 'card declined (simulated)' } : { ...base, status: 'CAPTURED' };
  }

  private refundFails(entry: BookEntry, key: string, attempt: number): boolean {
    if (entry.token === TEST_TOKENS.refundFlaky) return attempt <= 2;
    return !isTestToken(entry.token) && this.draw(`refund:${key}:${attempt}`) < this.options.refundFailureRate;
  }

  private answerLost(entry: BookEntry, key: string, attempt: number): boolean {
    if (entry.token === TEST_TOKENS.refundFlaky) return attempt === 3;
    return !isTestToken(entry.token) && this.draw(`refund-timeout:${key}:${attempt}`) < this.options.timeoutRate;
  }

  /** First write of a new entry, or an update under its ETag; false when someone else wrote first. */
  private async write(chargeKey: string, entry: BookEntry, etag?: string): Promise<boolean> {
    try {
      if (etag === undefined) await this.book.create(bookKey(chargeKey), entry);
      else await this.book.save(bookKey(chargeKey), entry, etag);
      return true;
    } catch (err) {
      if (err instanceof ConcurrencyConflictError) return false;
      throw err;
    }
  }

  private draw(what: string): number {
    return createHash('sha256').update(`${this.options.seed}:${what}`).digest().readUInt32BE(0) / 2 ** 32;
  }
}

function answerOf(entry: BookEntry): ChargeResult {
  if (entry.status === 'CAPTURED') return { approved: true, reference: entry.reference };
  return { approved: false, reason: entry.status === 'VOIDED' ? 'charge voided' : entry.reason ?? 'declined' };
}

const isTestToken = (token: string | null | undefined) => Object.values<string | null | undefined>(TEST_TOKENS).includes(token);

/** An answer that never comes: the call hangs until the caller gives up. */
function never(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
