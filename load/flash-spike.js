// flash-spike: BUYERS logged-in shoppers (tokens prepared before the run) all hit "buy" at the opening instant.
// Every 5th holder abandons at payment entry; the rest pay (the stack's simulated provider fails some payments).
import http from 'k6/http';
import { sleep } from 'k6';
import { SharedArray } from 'k6/data';
import { Counter, Trend } from 'k6/metrics';

const tokens = new SharedArray('tokens', () => JSON.parse(open(__ENV.TOKENS)));
const BASE = __ENV.BASE;
const SALE = __ENV.SALE;
const OPENS_AT = Number(__ENV.OPENS_AT);

const attempt = new Trend('purchase_attempt', true);
const payment = new Trend('payment', true);
const soldOutAnswer = new Trend('sold_out_answer', true);
// When (ms after the opening) each answer came: their maximum is how long the crowd took.
const attemptDone = new Trend('attempt_done_after_opening');
const paymentDone = new Trend('payment_done_after_opening');
const answerDone = new Trend('answer_done_after_opening');
const serverErrors = new Counter('server_errors');
const held = new Counter('held');
const soldOut = new Counter('sold_out');
const paid = new Counter('paid');
const paymentFailed = new Counter('payment_failed');
const abandoned = new Counter('abandoned');

export const options = {
  scenarios: {
    spike: { executor: 'per-vu-iterations', vus: tokens.length, iterations: 1, maxDuration: '5m' },
  },
  thresholds: {
    server_errors: ['count==0'],
    purchase_attempt: ['p(95)<56', 'p(99)<100'],
    sold_out_answer: ['p(99)<20'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(95)', 'p(99)', 'max', 'count'],
  discardResponseBodies: false,
};

export default function () {
  const headers = { authorization: `Bearer ${tokens[__VU - 1]}` };
  const wait = (OPENS_AT - Date.now()) / 1000;
  if (wait > 0) sleep(wait);

  const res = http.post(`${BASE}/api/flash-sales/${SALE}/purchases`, null, {
    headers: { ...headers, 'idempotency-key': `${SALE}-vu-${__VU}` },
    tags: { name: 'purchase attempt' },
  });
  attempt.add(res.timings.duration);
  attemptDone.add(Date.now() - OPENS_AT);
  answerDone.add(Date.now() - OPENS_AT);
  if (res.status >= 500) serverErrors.add(1);
  if (res.status === 409 && res.json('code') === 'SOLD_OUT') {
    soldOut.add(1);
    soldOutAnswer.add(res.timings.duration);
    return;
  }
  if (res.status !== 201) return;
  held.add(1);
  const purchase = res.json('purchaseId');

  if (__VU % 5 === 0) {
    const gone = http.del(`${BASE}/api/purchases/${purchase}`, null, { headers, tags: { name: 'abandon' } });
    answerDone.add(Date.now() - OPENS_AT);
    if (gone.status >= 500) serverErrors.add(1);
    abandoned.add(1);
    return;
  }
  const paying = http.post(`${BASE}/api/purchases/${purchase}/payment`, null, { headers, tags: { name: 'payment' } });
  payment.add(paying.timings.duration);
  paymentDone.add(Date.now() - OPENS_AT);
  answerDone.add(Date.now() - OPENS_AT);
  if (paying.status >= 500) serverErrors.add(1);
  if (paying.status === 200) paid.add(1);
  if (paying.status === 402) paymentFailed.add(1);
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
