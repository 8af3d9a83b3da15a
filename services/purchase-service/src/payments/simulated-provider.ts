import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Charge, ChargeResult, PaymentProvider } from '../domain/payments';

export interface SimulatedProviderOptions {
  failureRate: number;
  latencyMs: number;
  /** Which charges fail follows from the seed and the charge key, not from call order: runs are repeatable. */
  seed: string;
}

/** Stands in for a card processor: some charges fail, every charge takes a while, a key is charged once. */
export class SimulatedPaymentProvider implements PaymentProvider {
  private readonly outcomes = new Map<string, ChargeResult>();

  constructor(private readonly options: SimulatedProviderOptions) {}

  async charge({ key }: Charge): Promise<ChargeResult> {
    await sleep(this.options.latencyMs);
    let outcome = this.outcomes.get(key);
    if (!outcome) {
      const draw = createHash('sha256').update(`${this.options.seed}:${key}`).digest().readUInt32BE(0) / 2 ** 32;
      outcome = draw < this.options.failureRate ? { ok: false, reason: 'card declined (simulated)' } : { ok: true, reference: `sim-${key}` };
      this.outcomes.set(key, outcome);
    }
    return outcome;
  }

  async refund(key: string): Promise<void> {
    await sleep(this.options.latencyMs);
    this.outcomes.delete(key);
  }
}
