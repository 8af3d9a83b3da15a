/**
 * The clock at the boundary (drill 10): attempts 50 ms either side of a short sale's `startsAt` and `endsAt`, and
 * payments sent at the instant their hold runs out. The service judges by its own clock when a request arrives; the
 * drill's clock is the same machine's, so the only blur is the request's flight: the moment judged lies between the
 * send and the answer. An answer before the boundary must be the before-answer, a request sent after it must get the
 * after-answer; one whose flight straddles the boundary (a hold is written before its 201, which takes longer than
 * 50 ms) may get either, and is counted as straddling.
 */
import { randomUUID } from 'node:crypto';
import { apiClient, succeeded } from '@flash/stack';
import type { BenchStack } from '../bench/stack';
import { log, sleep } from '../bench/report';
import { countByStatus, tryOnce, type Answer, type Attempt } from './crowd';
import { checkSale, sellsAfterwards } from './outcome';
import type { DrillResult } from './sale-drill';

/** How far from each boundary the attempts are sent. */
const OFFSET_MS = 50;
/** Buyers per probe (each boundary ± OFFSET_MS): few enough that their requests do not queue behind each other. */
const PER_PROBE = 10;
/** Purchases whose payment races their hold's expiry. */
const RACES = 100;
/** Payments are sent within ± this of their hold's expiry instant. */
const RACE_SPREAD_MS = 40;

const sleepUntil = (at: number) => sleep(Math.max(0, at - Date.now()));

/** Which side of `boundary` a request was judged on: surely before, surely after, or either (its flight straddled it). */
function side(sentAt: number, answeredAt: number, boundary: number): 'before' | 'after' | 'either' {
  if (answeredAt < boundary) return 'before';
  return sentAt >= boundary ? 'after' : 'either';
}

interface Probe {
  name: string;
  at: number;
  /** What a request judged before and after the boundary must get. */
  before: (a: Answer) => boolean;
  after: (a: Answer) => boolean;
}

/** Part one: a 3 s sale, PER_PROBE fresh buyers 50 ms before and after its opening and its end. */
async function windowEdges(stack: BenchStack): Promise<{ attempts: Attempt[]; failures: string[]; figures: string[]; saleId: string; lastAt: number }> {
  const product = await stack.product();
  const { tokens } = await stack.buyerTokens(4 * PER_PROBE);
  const startsAt = Date.now() + 2_000;
  const endsAt = startsAt + 3_000;
  const sale = await succeeded(stack.admin.POST('/api/admin/flash-sales', {
    body: { productId: product.id, quantity: 4 * PER_PROBE, startsAt: new Date(startsAt).toISOString(), endsAt: new Date(endsAt).toISOString() },
  }));
  const notOpen = (a: Answer) => a.status === 403 && a.code === 'SALE_NOT_OPEN';
  const selling = (a: Answer) => a.status === 201 || a.status === 409;
  const ended = (a: Answer) => a.status === 403 && a.code === 'SALE_ENDED';
  const probes: Probe[] = [
    { name: 'startsAt − 50 ms', at: startsAt - OFFSET_MS, before: notOpen, after: selling },
    { name: 'startsAt + 50 ms', at: startsAt + OFFSET_MS, before: notOpen, after: selling },
    { name: 'endsAt − 50 ms', at: endsAt - OFFSET_MS, before: selling, after: ended },
    { name: 'endsAt + 50 ms', at: endsAt + OFFSET_MS, before: selling, after: ended },
  ];
  log(`clock-boundary: a sale from ${new Date(startsAt).toISOString()} to ${new Date(endsAt).toISOString()}; ${PER_PROBE} buyers ${OFFSET_MS} ms either side of each`);
  const failures: string[] = [];
  const figures: string[] = [];
  const attempts: Attempt[] = [];
  const runs = probes.map(async (probe, p) => {
    const boundary = p < 2 ? startsAt : endsAt;
    // Open the probe's connections beforehand (the sale page): the flight measured is the request's, not a handshake's.
    await sleepUntil(probe.at - 300);
    await Promise.all(Array.from({ length: PER_PROBE }, () => tryOnce(`${stack.base}/api/flash-sales/${sale.id}`, {})));
    await sleepUntil(probe.at);
    const answers = await Promise.all(tokens.slice(p * PER_PROBE, (p + 1) * PER_PROBE).map(async (token, i) => {
      const key = randomUUID();
      const sentAt = Date.now();
      const answer: Answer = await tryOnce(`${stack.base}/api/flash-sales/${sale.id}/purchases`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'idempotency-key': key },
      });
      attempts.push({ buyer: p * PER_PROBE + i, token, key, answers: [answer], ...(answer.status === 201 || (answer.status >= 400 && answer.status < 500) ? { final: answer } : {}) });
      return { answer, judged: side(sentAt, answer.at, boundary), flightMs: answer.at - sentAt };
    }));
    const wrong = answers.filter(({ answer, judged }) => (judged === 'before' && !probe.before(answer)) || (judged === 'after' && !probe.after(answer))
      || (judged === 'either' && !probe.before(answer) && !probe.after(answer)));
    const either = answers.filter((a) => a.judged === 'either').length;
    if (wrong.length) failures.push(`${probe.name}: ${wrong.length} wrong answers (${wrong.map((w) => `${w.answer.status} ${w.answer.code ?? ''} judged ${w.judged}`).slice(0, 3).join('; ')})`);
    // Sent before the boundary, straddling it and answered as if after: a clock that is early, or a machine too slow to
    // tell. Most of a probe so is no proof of either, and no pass.
    const early = answers.filter((a) => a.judged === 'either' && probe.at < boundary && !probe.before(a.answer)).length;
    if (early > PER_PROBE / 2) failures.push(`${probe.name}: ${early} of ${PER_PROBE} got the answer of after the boundary with flights over ${OFFSET_MS} ms: the boundary could not be told`);
    const counts = countByStatus(answers.map((a) => a.answer));
    figures.push(`${probe.name}: ${Object.entries(counts).map(([s, n]) => `${n} × ${s}`).join(', ')} (longest flight ${Math.max(...answers.map((a) => a.flightMs))} ms${either ? `, ${either} straddling` : ''})`);
  });
  await Promise.all(runs);
  return { attempts, failures, figures, saleId: sale.id, lastAt: Math.max(...attempts.map((a) => a.answers[0]!.at)) };
}

/**
 * Part two: RACES buyers hold a unit of a sale whose hold lasts 1 s, and each pays within ±RACE_SPREAD_MS of their
 * hold's expiry, while the expiry job wakes for the same instant. Each purchase must end PAID (one order, charged once)
 * or not (EXPIRED or declined: the unit back, nothing charged or the charge refunded), and agree with the answer.
 */
async function expiryRace(stack: BenchStack): Promise<{ failures: string[]; figures: string[]; answers: Record<string, number> }> {
  const product = await stack.product();
  const { tokens } = await stack.buyerTokens(RACES);
  const sale = await stack.sale(product.id, RACES, { holdSeconds: 1 });
  const failures: string[] = [];
  const holds = await Promise.all(tokens.map(async (token) => {
    const hold = await succeeded(apiClient(stack.base, { token }).POST('/api/flash-sales/{id}/purchases', {
      params: { path: { id: sale.id }, header: { 'idempotency-key': randomUUID() } },
    }));
    return { token, purchaseId: hold.purchaseId, expiresAt: Date.parse(hold.holdExpiresAt) };
  }));
  log(`clock-boundary: ${holds.length} holds of 1 s; each paid within ±${RACE_SPREAD_MS} ms of its expiry`);
  const paid = await Promise.all(holds.map(async (hold, i) => {
    await sleepUntil(hold.expiresAt - RACE_SPREAD_MS + (2 * RACE_SPREAD_MS * i) / (RACES - 1));
    const sentAt = Date.now();
    const answer: Answer = await tryOnce(`${stack.base}/api/purchases/${hold.purchaseId}/payment`, {
      method: 'POST', headers: { authorization: `Bearer ${hold.token}` },
    });
    return { ...hold, answer, judged: side(sentAt, answer.at, hold.expiresAt) };
  }));

  // What each purchase became, once the expiry job has run past every hold.
  await sleep(1_000);
  const outcome = { PAID: 0, EXPIRED: 0, PAYMENT_FAILED: 0 } as Record<string, number>;
  let payingAfterExpiry = 0;
  let refusedWithinHold = 0;
  for (const p of paid) {
    const history = await succeeded(apiClient(stack.base, { token: p.token }).GET('/api/purchases'));
    const status = history.items.find((x) => x.purchaseId === p.purchaseId)?.status ?? 'missing';
    outcome[status] = (outcome[status] ?? 0) + 1;
    const agrees = { 200: 'PAID', 410: 'EXPIRED', 402: 'PAYMENT_FAILED' }[p.answer.status] === status;
    if (!agrees) failures.push(`purchase ${p.purchaseId} answered ${p.answer.status} ${p.answer.code ?? ''} but is ${status}`);
    if (p.judged === 'after' && status === 'PAID') payingAfterExpiry++;
    if (p.judged === 'before' && status === 'EXPIRED') refusedWithinHold++;
  }
  if (payingAfterExpiry) failures.push(`${payingAfterExpiry} payments sent after their hold ran out were taken`);
  if (refusedWithinHold) failures.push(`${refusedWithinHold} payments answered before their hold ran out were refused as expired`);

  // Exactly one order per paid purchase, none for the others (orders are made from purchase-paid events: wait for them).
  const ordersOf = async (p: (typeof paid)[number]) =>
    (await succeeded(apiClient(stack.base, { token: p.token }).GET('/api/orders'))).items.filter((o) => o.id === p.purchaseId).length;
  let orders: number[] = [];
  for (let deadline = Date.now() + 15_000; ;) {
    orders = await Promise.all(paid.map(ordersOf));
    if (paid.every((p, i) => orders[i] === (p.answer.status === 200 ? 1 : 0)) || Date.now() > deadline) break;
    await sleep(500);
  }
  const wrongOrders = paid.filter((p, i) => orders[i] !== (p.answer.status === 200 ? 1 : 0)).length;
  if (wrongOrders) failures.push(`${wrongOrders} purchases do not have exactly one order if paid and none otherwise`);

  // The sale and the money add up: every unit not paid is back, and what stands charged is what was paid for.
  const invariant = await stack.saleInvariant(sale.id, (i) => i.consistent && i.ledger.held === 0);
  if (!invariant.consistent || invariant.ledger.sold !== outcome.PAID || invariant.ledger.available !== RACES - outcome.PAID!) {
    failures.push(`the sale does not add up: ledger ${JSON.stringify(invariant.ledger)}, purchases ${JSON.stringify(invariant.purchases)}, ${outcome.PAID} paid`);
  }
  const money = await stack.moneyInvariant({ saleId: sale.id });
  if (!money.consistent || money.standing !== outcome.PAID! * product.price) {
    failures.push(`the money does not add up: ${JSON.stringify(money)}, ${outcome.PAID} paid at ${product.price}`);
  }
  return {
    failures,
    answers: countByStatus(paid.map((p) => p.answer), 'payment '),
    figures: [`${RACES} payments at their hold's expiry ±${RACE_SPREAD_MS} ms: ${outcome.PAID} PAID, ${outcome.EXPIRED} EXPIRED, ${outcome.PAYMENT_FAILED} declined; ${money.charged - money.refunded} charged net for ${outcome.PAID} paid`],
  };
}

export async function clockBoundary(stack: BenchStack, drill: string, faults: string): Promise<DrillResult> {
  const edges = await windowEdges(stack);
  const sale = await checkSale(stack, edges.saleId, edges.attempts, edges.lastAt);
  const race = await expiryRace(stack);
  const failures = [...edges.failures, ...sale.failures, ...race.failures, ...(await sellsAfterwards(stack))];
  const attemptAnswers = countByStatus(edges.attempts.flatMap((a) => a.answers), 'attempt ');
  return {
    drill,
    faults,
    answers: { ...attemptAnswers, ...race.answers },
    passed: failures.length === 0,
    failures,
    figures: { summary: [...edges.figures, ...race.figures].join('; '), ledger: JSON.stringify(sale.invariant.ledger) },
  };
}
