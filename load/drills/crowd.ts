/**
 * The buyers of a drill: each presses Buy once at the opening (spread over its first second) and, as the API tells
 * them, retries the same attempt with the same Idempotency-Key after `Retry-After` while the answer is a 5xx, a 429 or
 * no answer at all. Every answer is kept with the time it came.
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
  at: number;
}

export interface Attempt {
  buyer: number;
  token: string;
  key: string;
  answers: Answer[];
  /** The answer that ended the attempt: 201 or a 4xx other than 429; none when the buyer gave up. */
  final?: Answer;
}

/** Final answers: a purchase, or a refusal the buyer should not retry. */
const isFinal = (status: number) => status === 201 || (status >= 400 && status < 500 && status !== 429);

/** How long a buyer waits before the next try: Retry-After (seconds), at least 0.2 s and at most 2 s. */
const retryDelayMs = (retryAfter: string | null) => Math.min(2000, Math.max(200, Number(retryAfter ?? 1) * 1000 || 1000));

const REQUEST_TIMEOUT_MS = 10_000;

/** One try: the status and what the body says (code, purchaseId), or status 0 when nothing came back. */
export async function tryOnce(url: string, init: RequestInit): Promise<Answer & { retryAfter: string | null }> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = (await res.json().catch(() => ({}))) as { code?: string; detail?: string; purchaseId?: string };
    return { status: res.status, code: body.code, detail: body.detail, purchaseId: body.purchaseId, at: Date.now(), retryAfter: res.headers.get('retry-after') };
  } catch {
    return { status: 0, at: Date.now(), retryAfter: null };
  }
}

/** A buyer's attempt on a sale, retried with the same key until it gets a final answer or `giveUpAt` passes. */
export async function attempt(base: string, saleId: string, buyer: number, token: string, giveUpAt: () => number, key = randomUUID()): Promise<Attempt> {
  const result: Attempt = { buyer, token, key, answers: [] };
  for (;;) {
    const { retryAfter, ...answer } = await tryOnce(`${base}/api/flash-sales/${saleId}/purchases`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'idempotency-key': key },
    });
    result.answers.push(answer);
    if (isFinal(answer.status)) {
      result.final = answer;
      return result;
    }
    if (Date.now() > giveUpAt()) return result;
    await sleep(retryDelayMs(retryAfter));
  }
}

/**
 * Every buyer presses Buy at `opensAt` plus a random delay within the first second, and retries as told. `giveUpAt`
 * is asked again before each retry (a drill moves it once it knows when the fault was over).
 */
export async function crowd(base: string, saleId: string, tokens: string[], opensAt: number, giveUpAt: () => number): Promise<Attempt[]> {
  return Promise.all(tokens.map(async (token, buyer) => {
    await sleep(Math.max(0, opensAt - Date.now()) + Math.random() * 1000);
    return attempt(base, saleId, buyer, token, giveUpAt);
  }));
}

/** How many answers of each status the buyers got: first tries and retries alike, e.g. `201: 100, 503: 40`. */
export function answersByStatus(attempts: Attempt[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of attempts.flatMap((a) => a.answers)) {
    const label = answer.status === 0 ? 'none' : answer.code && answer.status !== 201 ? `${answer.status} ${answer.code}` : String(answer.status);
    counts[label] = (counts[label] ?? 0) + 1;
  }
  return counts;
}
