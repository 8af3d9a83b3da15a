/**
 * What every drill must show once its fault is over: nothing oversold, no acknowledged purchase or payment lost,
 * every buyer with a final answer within 5 s of the recovery, no unit stranded (the ledger balances, the counter and
 * the purchases agree with it, the page shows what is really free), exactly one order per paid purchase, money that
 * adds up, and the stack selling normally afterwards.
 */
import { apiClient, redisClient, succeeded, type ApiSchema } from '@flash/stack';
import { TEST_TOKENS, type BookEntry } from '@flash/payments';
import type { BenchStack } from '../bench/stack';
import { sleep } from '../bench/report';
import { attempt, pay, type Attempt, type Tries } from './crowd';

/** How long after the recovery every buyer must have a final answer and the sale must add up. */
export const SETTLE_MS = 5_000;

/**
 * How long after the recovery every paid purchase must be an order: events a dead consumer had taken are handed out
 * again after the pub/sub component's processingTimeout (15 s) and redeliverInterval (5 s) (dapr/components/pubsub.yaml),
 * and an event lost altogether is sent again by purchase-service's order checks ORDER_CHECK_SECONDS (60) after its
 * payment, within a re-check (10 s). The check waits only as long as an order is missing.
 */
export const ORDERS_SETTLE_MS = 90_000;

/** A payment the buyer was told went through. */
/** The buyer was told their payment went through. */
export const paid = (a: Attempt) => a.payment?.final?.status === 200;

/**
 * A unit the buyer still holds or has bought: told 201, and not given back by a payment refused (402, 410, or 409
 * after a 504: the purchase ended unpaid).
 */
const standing = (a: Attempt) => a.final?.status === 201 && (!a.payment?.final || paid(a));

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

  // Final answers to attempts and payments, in time, never a 5xx; one purchase per buyer whatever the retries.
  const tries: Tries[] = attempts.flatMap((a) => (a.payment ? [a, a.payment] : [a]));
  const unanswered = tries.filter((t) => !t.final);
  const last = unanswered[0]?.answers.at(-1);
  if (last) failures.push(`${unanswered.length} attempts or payments never got a final answer (last: ${last.status} ${last.detail ?? ''})`);
  const lastAnswer = Math.max(...tries.map((t) => t.final?.at ?? Infinity));
  if (lastAnswer > deadline) failures.push(`the last final answer came ${lastAnswer - recoveredAt} ms after the recovery (> ${SETTLE_MS})`);
  const twice = attempts.filter((a) => new Set(a.answers.filter((x) => x.status === 201).map((x) => x.purchaseId)).size > 1);
  if (twice.length) failures.push(`${twice.length} buyers got two different purchases for one attempt`);
  const purchases = new Map(attempts.filter(standing).map((a) => [a.final!.purchaseId!, a]));

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
  if (purchases.size > invariant.quantity) failures.push(`oversold: ${purchases.size} buyers were told they hold or bought a unit of ${invariant.quantity}`);
  // Every unit held or sold belongs to a buyer who was told so (none is stuck in a purchase nobody knows of).
  if (ledger.held + ledger.sold !== purchases.size) failures.push(`${ledger.held + ledger.sold} units held or sold, but ${purchases.size} buyers were told they hold or bought one`);
  const sold = attempts.filter(paid).length;
  if (ledger.sold !== sold || invariant.purchases.paid !== sold) failures.push(`${sold} buyers were told they paid, but ${ledger.sold} units are sold and ${invariant.purchases.paid} purchases paid`);

  // What shoppers see is what is free (the page is a snapshot: it may lag by half a second).
  let remaining: number | undefined;
  do {
    remaining = (await succeeded(apiClient(stack.base).GET('/api/flash-sales/{id}', { params: { path: { id: saleId } } }))).remaining;
    if (remaining === ledger.available) break;
    await sleep(100);
  } while (Date.now() < deadline + 1000);
  if (remaining !== ledger.available) failures.push(`the sale page shows ${remaining} remaining, ${ledger.available} are free`);

  // No acknowledged purchase or payment is lost: each buyer finds it in their history as they were told.
  const lost = (await Promise.all([...purchases].map(async ([purchaseId, a]) => {
    const history = await succeeded(apiClient(stack.base, { token: a.token }).GET('/api/purchases'));
    return history.items.some((p) => p.purchaseId === purchaseId && (paid(a) ? ['PAID'] : ['HELD', 'PAID']).includes(p.status)) ? 0 : 1;
  }))).reduce((sum: number, n) => sum + n, 0);
  if (lost) failures.push(`${lost} acknowledged purchases or payments are not in their buyer's history as told`);

  return {
    failures,
    held: purchases.size,
    soldOut: attempts.filter((a) => a.final?.code === 'SOLD_OUT').length,
    lastAnswerAfterRecoveryMs: lastAnswer - recoveredAt,
    ...(consistentAt ? { consistentAfterRecoveryMs: Math.max(0, consistentAt - recoveredAt) } : {}),
    invariant,
  };
}

export interface PaymentsOutcome {
  failures: string[];
  paid: number;
  /** When the last paid purchase had become its order, in ms after the recovery. */
  ordersAfterRecoveryMs?: number;
  money: ApiSchema<'MoneyInvariant'>;
  /** What the payment provider's own book holds for the sale's purchases: captured and refunded, in minor units. */
  book: { captured: number; refunded: number };
}

/**
 * Checks a paying drill's money and orders: within ORDERS_SETTLE_MS of the recovery every paid purchase is exactly
 * one order (under the order id its payment answered), no other purchase of the sale is one, and money adds up —
 * order-service's money invariant is consistent, what stands is what buyers were told they paid, and the provider's
 * own book agrees (no charge landed that is neither an order nor refunded).
 */
export async function checkPayments(stack: BenchStack, sale: ApiSchema<'FlashSale'>, attempts: Attempt[], recoveredAt: number): Promise<PaymentsOutcome> {
  const failures: string[] = [];
  const holders = attempts.filter((a) => a.final?.status === 201);
  const orders = await ordersOfSale(stack, sale.id, holders, recoveredAt + ORDERS_SETTLE_MS);
  let ordersAt = 0;
  let wrong = 0;
  for (const a of holders) {
    const found = orders.get(a)!;
    if (paid(a) ? found.ids.length === 1 && found.ids[0] === a.payment!.final!.orderId : found.ids.length === 0) ordersAt = Math.max(ordersAt, found.at);
    else wrong++;
  }
  if (wrong) {
    const sample = holders.filter((a) => orders.get(a)!.ids.length !== (paid(a) ? 1 : 0)).slice(0, 3).map((a) => `${paid(a) ? 'paid' : 'unpaid'} buyer with ${orders.get(a)!.ids.length} orders`);
    failures.push(`${wrong} buyers do not have exactly one order per paid purchase ${ORDERS_SETTLE_MS} ms after the recovery (${sample.join(', ')})`);
  }

  const paidValue = attempts.filter(paid).length * sale.price;
  const money = await stack.moneyInvariant({ saleId: sale.id });
  if (!money.consistent) failures.push(`the money invariant is not consistent: ${JSON.stringify(money)}`);
  if (money.standing !== paidValue) failures.push(`orders worth ${money.standing} stand, buyers were told they paid ${paidValue}`);
  const book = await providerBook(stack, holders.map((a) => a.final!.purchaseId!));
  if (book.captured - book.refunded !== paidValue) failures.push(`the provider kept ${book.captured - book.refunded} of the sale's buyers, who were told they paid ${paidValue}`);
  if (book.captured !== money.charged) failures.push(`the provider captured ${book.captured}, order-service knows of ${money.charged}`);
  return {
    failures, paid: attempts.filter(paid).length, money, book,
    ...(wrong ? {} : { ordersAfterRecoveryMs: Math.max(0, ordersAt - recoveredAt) }),
  };
}

/**
 * Each holder's orders of the sale (ids) through the API, as their buyer sees them, asked again until every paid
 * buyer has one order and every other buyer none, or until `deadline`; `at` is when the buyer's orders were last read.
 */
async function ordersOfSale(stack: BenchStack, saleId: string, holders: Attempt[], deadline: number): Promise<Map<Attempt, { ids: string[]; at: number }>> {
  const found = new Map<Attempt, { ids: string[]; at: number }>();
  const ordersOf = async (a: Attempt) => (await succeeded(apiClient(stack.base, { token: a.token }).GET('/api/orders'))).items
    .filter((o) => o.items.some((i) => i.saleId === saleId)).map((o) => o.id);
  let waiting = holders;
  for (;;) {
    await Promise.all(waiting.map(async (a) => found.set(a, { ids: await ordersOf(a), at: Date.now() })));
    waiting = waiting.filter((a) => found.get(a)!.ids.length !== (paid(a) ? 1 : 0));
    if (!waiting.length || Date.now() > deadline) break;
    await sleep(500);
  }
  // Once all are there, once more for all: a duplicate order may come later than the first.
  for (const a of holders) found.set(a, { ids: await ordersOf(a), at: found.get(a)!.at });
  return found;
}

/**
 * What the simulated provider's book (dapr/components/paymentbook.yaml, a Dapr Redis state store: a hash whose `data`
 * is the entry) holds under these charge keys: read the way one reads a card processor's statement, from outside.
 */
export async function providerBook(stack: BenchStack, chargeKeys: string[]): Promise<{ captured: number; refunded: number }> {
  const redis = redisClient();
  try {
    const entries = await Promise.all(chargeKeys.map((key) => redis.hget(`${stack.id}-payment-book||payment-${key}`, 'data')));
    const book = entries.filter((e): e is string => e !== null).map((e) => JSON.parse(e) as BookEntry);
    return {
      captured: book.reduce((sum, e) => sum + (e.status === 'CAPTURED' ? e.amount : 0), 0),
      refunded: book.reduce((sum, e) => sum + (e.refund?.amount ?? 0), 0),
    };
  } finally {
    redis.disconnect();
  }
}

/**
 * The stack sells normally afterwards: a new buyer's attempt on a fresh sale is held at once; in a paying drill it
 * is paid too (with the provider's approving test token) and becomes an order.
 */
export async function sellsAfterwards(stack: BenchStack, pays = false): Promise<string[]> {
  const product = await stack.product();
  const sale = await stack.sale(product.id, 1);
  const { tokens } = await stack.buyerTokens(1);
  const giveUpAt = () => Date.now() + SETTLE_MS;
  const fresh = await attempt(stack.base, sale.id, 0, tokens[0]!, giveUpAt);
  if (fresh.final?.status !== 201) return [`a fresh attempt on another sale got ${fresh.answers.map((a) => a.status).join(', ')}`];
  if (!pays) return [];
  fresh.payment = await pay(stack.base, fresh.final.purchaseId!, tokens[0]!, giveUpAt, TEST_TOKENS.approve);
  if (!paid(fresh)) return [`a fresh payment on another sale got ${fresh.payment.answers.map((a) => a.status).join(', ')}`];
  const orders = await ordersOfSale(stack, sale.id, [fresh], Date.now() + SETTLE_MS);
  return orders.get(fresh)!.ids.length === 1 ? [] : [`a fresh paid purchase on another sale is ${orders.get(fresh)!.ids.length} orders ${SETTLE_MS} ms after`];
}
