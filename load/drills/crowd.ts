/**
 * The buyers of a drill: each presses Buy once at the opening (spread over its first second) and, as the API tells
 * them, retries the same attempt with the same Idempotency-Key after `Retry-After` while the answer is a 5xx, a 429 or
 * no answer at all. In a paying drill a buyer who holds pays at once, and retries the payment the same way (the
 * purchase id is the charge's idempotency key). Every answer is kept with the time it came.
 */
import { randomUUID } from 'node:crypto';
import { sleep } from '../bench/report';

export interface Answer {
  /** The HTTP status, 0 for no answer (connection refused or reset, timeout). */
  status: number;
  code?: string;
  /** A problem's detail (what a 503 says it waits for). */
  detail?: string;
  purchaseId?: string;
  /** The order a payment's purchase becomes (a 200 to a payment). */
  orderId?: string;
  at: number;
}

/** A request tried again as the API says until it gets a final answer. */
export interface Tries {
  answers: Answer[];
  /** The answer that ended it: a 2xx or a 4xx other than 429; none when the buyer gave up. */
  final?: Answer;
}

export interface Attempt extends Tries {
  buyer: number;
  token: string;
  key: string;
  /** The payment of the purchase the attempt held, in a paying drill. */
  payment?: Tries;
}

/** Final answers: a purchase (or a payment), or a refusal the buyer should not retry. */
const isFinal = (status: number) => (status >= 200 && status < 300) || (status >= 400 && status < 500 && status !== 429);

/** How long a buyer waits before the next try: Retry-After (seconds), at least 0.2 s and at most 2 s. */
const retryDelayMs = (retryAfter: string | null) => Math.min(2000, Math.max(200, Number(retryAfter ?? 1) * 1000 || 1000));

const REQUEST_TIMEOUT_MS = 10_000;

/** One try: the status and what the body says (code, purchaseId), or status 0 when nothing came back. */
export async function tryOnce(url: string, init: RequestInit): Promise<Answer & { retryAfter: string | null }> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = (await res.json().catch(() => ({}))) as { code?: string; detail?: string; purchaseId?: string; orderId?: string | null };
    return {
      status: res.status, code: body.code, detail: body.detail, purchaseId: body.purchaseId, orderId: body.orderId ?? undefined, at: Date.now(),
      retryAfter: res.headers.get('retry-after'),
    };
  } catch {
    return { status: 0, at: Date.now(), retryAfter: null };
  }
}

/** One request, tried again after `Retry-After` until a final answer or until `giveUpAt` passes (or `once`: not again). */
async function untilFinal(url: string, init: RequestInit, giveUpAt: () => number, once = false): Promise<Tries> {
  const tries: Tries = { answers: [] };
  for (;;) {
    const { retryAfter, ...answer } = await tryOnce(url, init);
    tries.answers.push(answer);
    if (isFinal(answer.status)) return { ...tries, final: answer };
    if (once || Date.now() > giveUpAt()) return tries;
    await sleep(retryDelayMs(retryAfter));
  }
}

/** A buyer's attempt on a sale, retried with the same key until it gets a final answer or `giveUpAt` passes. */
export async function attempt(base: string, saleId: string, buyer: number, token: string, giveUpAt: () => number, key = randomUUID()): Promise<Attempt> {
  const tries = await untilFinal(`${base}/api/flash-sales/${saleId}/purchases`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'idempotency-key': key },
  }, giveUpAt);
  return { buyer, token, key, ...tries };
}

/**
 * The buyer pays the purchase held (with `paymentToken`, or as the provider decides), retried like the attempt; a
 * buyer who `walksAway` does not try again after an answer that is not final (a 5xx, or none).
 */
export async function pay(base: string, purchaseId: string, token: string, giveUpAt: () => number, paymentToken?: string, walksAway = false): Promise<Tries> {
  return untilFinal(`${base}/api/purchases/${purchaseId}/payment`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(paymentToken ? { paymentToken } : {}),
  }, giveUpAt, walksAway);
}

/**
 * Every buyer presses Buy at `opensAt` plus a random delay within the first second, and retries as told; with `pays`,
 * a buyer who holds pays at once (and, 'walking away', does not retry a payment that got no final answer).
 * `giveUpAt` is asked again before each retry (a drill moves it once it knows when the fault was over).
 */
export async function crowd(
  base: string, saleId: string, tokens: string[], opensAt: number, giveUpAt: () => number, pays: boolean | 'walking away' = false,
): Promise<Attempt[]> {
  return Promise.all(tokens.map(async (token, buyer) => {
    await sleep(Math.max(0, opensAt - Date.now()) + Math.random() * 1000);
    const held = await attempt(base, saleId, buyer, token, giveUpAt);
    if (pays && held.final?.status === 201) held.payment = await pay(base, held.final.purchaseId!, token, giveUpAt, undefined, pays === 'walking away');
    return held;
  }));
}

/** How many of `answers` had each status (and problem code), as `<prefix><status> <code>`; `none` for no answer. */
export function countByStatus(answers: Answer[], prefix = '', counts: Record<string, number> = {}): Record<string, number> {
  for (const answer of answers) {
    const label = answer.status === 0 ? 'none' : answer.code && answer.status >= 300 ? `${answer.status} ${answer.code}` : String(answer.status);
    counts[prefix + label] = (counts[prefix + label] ?? 0) + 1;
  }
  return counts;
}

/**
 * How many answers of each status the buyers got: first tries and retries alike, e.g. `201: 100, 503: 40`; answers
 * to payments are counted apart (`pay 200: 80`).
 */
export function answersByStatus(attempts: Attempt[]): Record<string, number> {
  const counts = countByStatus(attempts.flatMap((a) => a.answers));
  return countByStatus(attempts.flatMap((a) => a.payment?.answers ?? []), 'pay ', counts);
}
