// One purchase attempt of a logged-in buyer, counted by outcome: held (201), sold out (409 SOLD_OUT), other
// refusals (any other 4xx), server errors (5xx), no answer at all (timeout, connection reset).
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';

const latency = new Trend('purchase_attempt', true);
const held = new Counter('held');
const soldOut = new Counter('sold_out');
const refused = new Counter('other_refusals');
export const serverErrors = new Counter('server_errors');
export const noAnswers = new Counter('no_answer');
// Which 5xx: k6's summary has no per-tag counts, so one counter per status (metrics are made at init).
const serverErrorsByStatus = Object.fromEntries([500, 502, 503, 504].map((s) => [s, new Counter(`status_${s}`)]));

/** Counts a failed answer: a 5xx (by status), or none at all (status 0). */
export function countFailure(res) {
  if (res.status >= 500) {
    serverErrors.add(1);
    serverErrorsByStatus[res.status]?.add(1);
  } else if (res.status === 0) noAnswers.add(1);
}

/** The answer, or null when the buyer did not get a unit; `tags` name the request in k6's metrics. */
export function attemptHold(base, sale, token, idempotencyKey) {
  const res = http.post(`${base}/api/flash-sales/${sale}/purchases`, null, {
    headers: { authorization: `Bearer ${token}`, 'idempotency-key': idempotencyKey },
    tags: { name: 'purchase attempt' },
  });
  latency.add(res.timings.duration);
  if (res.status === 201) {
    held.add(1);
    return res.json('purchaseId');
  }
  if (res.status >= 500 || res.status === 0) countFailure(res);
  else if (res.status === 409 && res.json('code') === 'SOLD_OUT') soldOut.add(1);
  else refused.add(1, { status: String(res.status) });
  return null;
}

/** An open-model scenario: RATE iterations a second for DURATION, k6 adding VUs up to MAX_VUS when answers slow. */
export function arrivals(rate, duration, exec) {
  const maxVUs = Number(__ENV.MAX_VUS ?? Math.max(100, Math.min(rate * 2, 3000)));
  return {
    executor: 'constant-arrival-rate', rate, timeUnit: '1s', duration, exec,
    preAllocatedVUs: Math.min(maxVUs, Math.max(20, Math.ceil(rate / 10))), maxVUs,
  };
}

export const trendStats = ['avg', 'min', 'med', 'p(95)', 'p(99)', 'max', 'count'];
