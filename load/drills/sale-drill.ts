/**
 * The shape most drills share: a sale of `quantity` units opens a few seconds ahead, `buyers` real buyers press Buy
 * in its first second and retry as told (and, with `pays`, pay at once what they hold), the fault strikes `faultAtMs`
 * after the opening, then the sale is checked (and its payments, orders and money).
 */
import type { BenchStack } from '../bench/stack';
import { log, sleep } from '../bench/report';
import { answersByStatus, crowd, type Attempt } from './crowd';
import { checkPayments, checkSale, sellsAfterwards, SETTLE_MS, type PaymentsOutcome, type SaleOutcome } from './outcome';

export interface DrillResult {
  drill: string;
  faults: string;
  /** Every answer the buyers got, first tries and retries, by status (and problem code). */
  answers: Record<string, number>;
  passed: boolean;
  failures: string[];
  figures: Record<string, number | string | undefined>;
}

export interface SaleDrillOptions {
  quantity?: number;
  buyers?: number;
  /** When the fault strikes, after the opening. */
  faultAtMs?: number;
  /** Buyers who hold pay at once; the drill checks payments, orders and money too. */
  pays?: boolean;
  /** Injects the fault; resolves the moment it was over (the killed process answers again, say). */
  fault(stack: BenchStack, sale: { id: string }): Promise<number>;
  /** Extra checks once the crowd is done (e.g. payments), as failures in words. */
  after?(stack: BenchStack, attempts: Attempt[], sale: { id: string; price: number }): Promise<string[]>;
}

export async function saleDrill(stack: BenchStack, drill: string, faults: string, options: SaleDrillOptions): Promise<DrillResult> {
  const { quantity = 150, buyers = 300, faultAtMs = 300 } = options;
  const product = await stack.product();
  const { tokens } = await stack.buyerTokens(buyers);
  const opensAt = Date.now() + 2_000;
  const sale = await stack.sale(product.id, quantity, { opensAt });
  log(`${drill}: ${buyers} buyers, ${quantity} units, opening at ${new Date(opensAt).toISOString()}; fault at +${faultAtMs} ms`);
  let giveUpAt = opensAt + 120_000;
  const pressing = crowd(stack.base, sale.id, tokens, opensAt, () => giveUpAt, options.pays);
  await sleep(opensAt + faultAtMs - Date.now());
  const faultAt = Date.now();
  const recoveredAt = await options.fault(stack, sale);
  // Buyers keep retrying a while past the deadline, so a late answer is measured rather than cut off.
  giveUpAt = recoveredAt + SETTLE_MS + 10_000;
  log(`${drill}: fault at +${faultAt - opensAt} ms, over ${recoveredAt - faultAt} ms later`);
  const attempts = await pressing;
  const outcome: SaleOutcome = await checkSale(stack, sale.id, attempts, recoveredAt);
  const payments: PaymentsOutcome | undefined = options.pays ? await checkPayments(stack, sale, attempts, recoveredAt) : undefined;
  const failures = [
    ...outcome.failures, ...(payments?.failures ?? []), ...((await options.after?.(stack, attempts, sale)) ?? []),
    ...(await sellsAfterwards(stack, options.pays)),
  ];
  return {
    drill,
    faults,
    answers: answersByStatus(attempts),
    passed: failures.length === 0,
    failures,
    figures: {
      quantity, buyers, held: outcome.held, soldOut: outcome.soldOut,
      // Units held before the fault struck: the fault should land mid-sale, with units still to sell.
      heldBeforeFault: attempts.filter((a) => a.answers.some((x) => x.status === 201 && x.at < faultAt)).length,
      recoveryMs: recoveredAt - faultAt,
      lastAnswerAfterRecoveryMs: outcome.lastAnswerAfterRecoveryMs,
      consistentAfterRecoveryMs: outcome.consistentAfterRecoveryMs,
      ledger: JSON.stringify(outcome.invariant.ledger),
      ...(payments && {
        paid: payments.paid, ordersAfterRecoveryMs: payments.ordersAfterRecoveryMs,
        money: JSON.stringify({ charged: payments.money.charged, refunded: payments.money.refunded, standing: payments.money.standing, book: payments.book }),
      }),
    },
  };
}
