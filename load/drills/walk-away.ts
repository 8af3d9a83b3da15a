/**
 * Buyers who walk away from a lost payment answer: buyers who hold pay at once, purchase-service is killed (kill -9)
 * while they pay, and a buyer whose payment gets no final answer (none, or a 5xx) does not try again — they close the
 * tab. Each such purchase was paid (its commit landed before the kill: an order, the charge kept) or it ends unpaid
 * when its short hold runs out, and then no money may stay with the provider: a charge that landed without its
 * payment is refunded (Purchasing: the expiry reads the provider's book).
 */
import { apiClient, succeeded } from '@flash/stack';
import type { BenchStack } from '../bench/stack';
import { log, sleep } from '../bench/report';
import { answersByStatus, crowd, type Attempt } from './crowd';
import { kill, restarted } from './faults';
import { ORDERS_SETTLE_MS, paid, providerBook } from './outcome';
import type { DrillResult } from './sale-drill';

const QUANTITY = 150;
const BUYERS = 300;
/** Short holds, so that the walked-away purchases end within the drill. */
const HOLD_SECONDS = 5;
const FAULT_AT_MS = 700;

export async function walkAway(stack: BenchStack, drill: string, faults: string): Promise<DrillResult> {
  const product = await stack.product();
  const { tokens } = await stack.buyerTokens(BUYERS);
  const opensAt = Date.now() + 2_000;
  const sale = await stack.sale(product.id, QUANTITY, { opensAt, holdSeconds: HOLD_SECONDS });
  log(`${drill}: ${BUYERS} buyers, ${QUANTITY} units, ${HOLD_SECONDS} s holds; purchase-service killed at +${FAULT_AT_MS} ms`);
  let giveUpAt = opensAt + 120_000;
  const pressing = crowd(stack.base, sale.id, tokens, opensAt, () => giveUpAt, 'walking away');
  await sleep(opensAt + FAULT_AT_MS - Date.now());
  const faultAt = Date.now();
  await restarted(stack, 'purchase-service', kill(stack, 'purchase-service'));
  const recoveredAt = Date.now();
  giveUpAt = recoveredAt + 10_000;
  const attempts = await pressing;
  const holders = attempts.filter((a) => a.final?.status === 201);
  const walkedAway = holders.filter((a) => !a.payment?.final);
  const purchaseOf = (a: Attempt) => a.final!.purchaseId!;

  // Every hold has run out (and the expiry, its refunds and the orders have been made) by the deadline.
  const lastHold = Math.max(...holders.map((a) => a.final!.at));
  const deadline = lastHold + HOLD_SECONDS * 1000 + ORDERS_SETTLE_MS;
  let failures: string[] = [];
  let figures: Record<string, number | string> = {};
  for (;;) {
    const statuses = new Map(await Promise.all(holders.map(async (a) => {
      const mine = (await succeeded(apiClient(stack.base, { token: a.token }).GET('/api/purchases'))).items;
      return [a, mine.find((p) => p.purchaseId === purchaseOf(a))?.status] as const;
    })));
    const paidOnes = holders.filter((a) => statuses.get(a) === 'PAID');
    const unpaid = holders.filter((a) => statuses.get(a) !== 'PAID');
    const [keptPaid, keptUnpaid, landedUnpaid] = await Promise.all([
      providerBook(stack, paidOnes.map(purchaseOf)), providerBook(stack, unpaid.map(purchaseOf)),
      providerBook(stack, unpaid.filter((a) => !a.payment?.final).map(purchaseOf)),
    ]);
    const money = await stack.moneyInvariant({ saleId: sale.id });
    const invariant = await stack.saleInvariant(sale.id);
    const stillHeld = holders.filter((a) => statuses.get(a) === 'HELD').length;
    const toldPaidInVain = holders.filter((a) => paid(a) && statuses.get(a) !== 'PAID').length;
    failures = [
      ...(stillHeld ? [`${stillHeld} purchases are still HELD after their holds ran out`] : []),
      ...(toldPaidInVain ? [`${toldPaidInVain} buyers told PAID find their purchase unpaid`] : []),
      ...(keptUnpaid.captured - keptUnpaid.refunded > 0 ? [`the provider keeps ${keptUnpaid.captured - keptUnpaid.refunded} of purchases that ended unpaid`] : []),
      ...(keptPaid.captured - keptPaid.refunded !== paidOnes.length * sale.price ? [`the provider keeps ${keptPaid.captured - keptPaid.refunded} for ${paidOnes.length} paid purchases of ${sale.price}`] : []),
      ...(!money.consistent || money.standing !== paidOnes.length * sale.price ? [`money ${JSON.stringify(money)}, ${paidOnes.length} purchases paid`] : []),
      ...(!invariant.consistent || !invariant.ledgerBalances || invariant.ledger.sold !== paidOnes.length
        ? [`the sale is not consistent: ledger ${JSON.stringify(invariant.ledger)}, counter ${invariant.counter.available}, purchases ${JSON.stringify(invariant.purchases)}; ${paidOnes.length} paid`] : []),
    ];
    const walkedAwayPaid = walkedAway.filter((a) => statuses.get(a) === 'PAID').length;
    const refunded = landedUnpaid.refunded / sale.price;
    figures = {
      quantity: QUANTITY, buyers: BUYERS, held: holders.length, paid: paidOnes.length, walkedAway: walkedAway.length, walkedAwayPaid,
      walkedAwayChargedAndRefunded: refunded, recoveryMs: recoveredAt - faultAt,
      summary: `${holders.length} held, ${paidOnes.length} paid; ${walkedAway.length} walked away from a lost payment answer: `
        + `${walkedAwayPaid} of them paid (an order each), ${refunded} charged and refunded, the rest never charged; `
        + `money ${JSON.stringify({ charged: money.charged, refunded: money.refunded, standing: money.standing })} `
        + `(recovery ${((recoveredAt - faultAt) / 1000).toFixed(1)} s after the fault)`,
    };
    if (!failures.length || Date.now() > deadline) break;
    await sleep(500);
  }
  log(`${drill}: ${JSON.stringify(figures)}`);
  return { drill, faults, answers: answersByStatus(attempts), passed: failures.length === 0, failures, figures };
}
