// noop: one cheap request at a fixed arrival rate (open model), to measure what a proxy hop costs.
import http from 'k6/http';
import { Counter } from 'k6/metrics';

const serverErrors = new Counter('server_errors');

export const options = {
  scenarios: {
    noop: {
      executor: 'constant-arrival-rate', rate: Number(__ENV.RATE ?? 1000), timeUnit: '1s', duration: __ENV.DURATION ?? '20s',
      preAllocatedVUs: 200, maxVUs: 2000,
    },
  },
  summaryTrendStats: ['med', 'p(95)', 'p(99)', 'max', 'count'],
};

export default function () {
  const res = http.post(`${__ENV.BASE}/api/flash-sales/noop/purchases`, null, { headers: { 'idempotency-key': 'noop' } });
  if (res.status >= 500 || res.status === 0) serverErrors.add(1);
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
