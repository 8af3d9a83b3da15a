// seed-holds: HOLDS purchases made through the API, as a sale's crowd makes them, by VUS buyers at a time.
// Hold i is in sale SALES[i mod their number] by buyer TOKENS[floor(i / number of sales)]; of every ten holders six
// pay (the stack's simulated provider declines some), two abandon at payment entry and two leave the hold to expire.
import http from 'k6/http';
import exec from 'k6/execution';
import { SharedArray } from 'k6/data';
import { Counter } from 'k6/metrics';
import { attemptHold, countFailure, trendStats } from './lib/hold.js';

const tokens = new SharedArray('tokens', () => JSON.parse(open(__ENV.TOKENS)));
const sales = __ENV.SALES.split(',');
const paid = new Counter('paid');
const paymentFailed = new Counter('payment_failed');
const abandoned = new Counter('abandoned');
const leftToExpire = new Counter('left_to_expire');

export const options = {
  scenarios: {
    seed: { executor: 'shared-iterations', vus: Number(__ENV.VUS ?? 50), iterations: Number(__ENV.HOLDS), maxDuration: '2h' },
  },
  summaryTrendStats: trendStats,
};

export default function () {
  const i = exec.scenario.iterationInTest;
  const token = tokens[Math.floor(i / sales.length) % tokens.length];
  const purchase = attemptHold(__ENV.BASE, sales[i % sales.length], token, `${__ENV.RUN}-${i}`);
  if (!purchase) return;
  const headers = { authorization: `Bearer ${token}` };
  const kind = i % 10;
  if (kind < 6) {
    const res = http.post(`${__ENV.BASE}/api/purchases/${purchase}/payment`, null, { headers, tags: { name: 'payment' } });
    countFailure(res);
    if (res.status === 200) paid.add(1);
    if (res.status === 402) paymentFailed.add(1);
  } else if (kind < 8) {
    const res = http.del(`${__ENV.BASE}/api/purchases/${purchase}`, null, { headers, tags: { name: 'abandon' } });
    countFailure(res);
    abandoned.add(1);
  } else {
    leftToExpire.add(1);
  }
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
