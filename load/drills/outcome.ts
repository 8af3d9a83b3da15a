/**
 * What every drill must show once its fault is over: nothing oversold, no acknowledged purchase lost, every buyer
 * with a final answer within 5 s of the recovery, no unit stranded (the ledger balances, the counter and the
 * purchases agree with it, the page shows what is really free) and the stack selling normally afterwards.
 */
import { apiClient, succeeded, type ApiSchema } from '@flash/stack';
import type { BenchStack } from '../bench/stack';
import { sleep } from '../bench/report';
import { attempt, type Attempt } from './crowd';

/** How long after the recovery every buyer must have a final answer and the sale must add up. */
export const SETTLE_MS = 5_000;

export interface SaleOutcome {
  /** Failed checks, in words; none means the drill passed. */
  failures: string[];
  held: number;
  soldOut: number;
  /** The last final answer and the moment the sale added up, in ms after the recovery (negative: before it). */
  lastAnswerAfterRecoveryMs: number;
  consistentAfterRecoveryMs?: number;
  invariant: ApiSchema<'FlashSaleInvariant'>;
}

/**
 * Checks a sale of `quantity` units after a drill: `attempts` are the buyers' attempts, `recoveredAt` when the fault
 * was over (the killed process answered again, or the fault itself for one the stack rides out).
 */
export async function checkSale(stack: BenchStack, saleId: string, attempts: Attempt[], recoveredAt: number): Promise<SaleOutcome> {
  const failures: string[] = [];
  const deadline = recoveredAt + SETTLE_MS;

  // Final answers, in time, never a 5xx; one purchase per buyer whatever the retries.
  const unanswered = attempts.filter((a) => !a.final);
  const last = unanswered[0]?.answers.at(-1);
  if (last) failures.push(`${unanswered.length} buyers never got a final answer (last: ${last.status} ${last.detail ?? ''})`);
  const lastAnswer = Math.max(...attempts.map((a) => a.final?.at ?? Infinity));
  if (lastAnswer > deadline) failures.push(`the last final answer came ${lastAnswer - recoveredAt} ms after the recovery (> ${SETTLE_MS})`);
  const twice = attempts.filter((a) => new Set(a.answers.filter((x) => x.status === 201).map((x) => x.purchaseId)).size > 1);
  if (twice.length) failures.push(`${twice.length} buyers got two different purchases for one attempt`);
  const purchases = new Map(attempts.filter((a) => a.final?.status === 201).map((a) => [a.final!.purchaseId!, a]));

  // The sale adds up, within SETTLE_MS of the recovery.
  let consistentAt: number | undefined;
  let invariant!: ApiSchema<'FlashSaleInvariant'>;
  for (;;) {
    invariant = await stack.saleInvariant(saleId, () => true);
    if (invariant.consistent && invariant.ledgerBalances) {
      consistentAt ??= Date.now();
      break;
    }
    if (Date.now() > deadline) break;
    await sleep(100);
  }
  const { ledger } = invariant;
  if (!invariant.ledgerBalances) failures.push(`the ledger does not balance: ${JSON.stringify(ledger)} for ${invariant.quantity}`);
  if (!invariant.consistent) failures.push(`not consistent ${SETTLE_MS} ms after the recovery: counter ${invariant.counter.available}, ledger ${JSON.stringify(ledger)}, purchases ${JSON.stringify(invariant.purchases)}`);
  if (ledger.held + ledger.sold > invariant.quantity) failures.push(`oversold: ${ledger.held + ledger.sold} held or sold of ${invariant.quantity}`);
  if (purchases.size > invariant.quantity) failures.push(`oversold: ${purchases.size} buyers were told they hold a unit of ${invariant.quantity}`);
  // Every unit held or sold belongs to a buyer who was told so (none is stuck in a purchase nobody knows of).
  if (ledger.held + ledger.sold !== purchases.size) failures.push(`${ledger.held + ledger.sold} units held or sold, but ${purchases.size} buyers were told they hold one`);

  // What shoppers see is what is free (the page is a snapshot: it may lag by half a second).
  let remaining: number | undefined;
  do {
    remaining = (await succeeded(apiClient(stack.base).GET('/api/flash-sales/{id}', { params: { path: { id: saleId } } }))).remaining;
    if (remaining === ledger.available) break;
    await sleep(100);
  } while (Date.now() < deadline + 1000);
  if (remaining !== ledger.available) failures.push(`the sale page shows ${remaining} remaining, ${ledger.available} are free`);

  // No acknowledged purchase is lost: each buyer told 201 finds it in their history.
  const lost = (await Promise.all([...purchases].map(async ([purchaseId, a]) => {
    const history = await succeeded(apiClient(stack.base, { token: a.token }).GET('/api/purchases'));
    return history.items.some((p) => p.purchaseId === purchaseId && ['HELD', 'PAID'].includes(p.status)) ? 0 : 1;
  }))).reduce((sum: number, n) => sum + n, 0);
  if (lost) failures.push(`${lost} acknowledged purchases are not in their buyer's history`);

  return {
    failures,
    held: purchases.size,
    soldOut: attempts.filter((a) => a.final?.code === 'SOLD_OUT').length,
    lastAnswerAfterRecoveryMs: lastAnswer - recoveredAt,
    ...(consistentAt ? { consistentAfterRecoveryMs: Math.max(0, consistentAt - recoveredAt) } : {}),
    invariant,
  };
}

/** The stack sells normally afterwards: a new buyer's attempt on a fresh sale is held at once. */
export async function sellsAfterwards(stack: BenchStack): Promise<string[]> {
  const product = await stack.product();
  const sale = await stack.sale(product.id, 1);
  const { tokens } = await stack.buyerTokens(1);
  const fresh = await attempt(stack.base, sale.id, 0, tokens[0]!, () => Date.now() + SETTLE_MS);
  return fresh.final?.status === 201 ? [] : [`a fresh attempt on another sale got ${fresh.answers.map((a) => a.status).join(', ')}`];
}
