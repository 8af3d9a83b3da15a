// page-refresh: the crowd presses refresh on one page (PAGE, a path) at RATE reads a second for DURATION (open
// model), while HOLD_RATE buyers a second (TOKENS from OFFSET on) keep holding units of SALE, so the page changes.
import http from 'k6/http';
import exec from 'k6/execution';
import { SharedArray } from 'k6/data';
import { Trend } from 'k6/metrics';
import { arrivals, attemptHold, countFailure, trendStats } from './lib/hold.js';

const tokens = new SharedArray('tokens', () => JSON.parse(open(__ENV.TOKENS)));
const OFFSET = Number(__ENV.OFFSET ?? 0);
const HOLD_RATE = Number(__ENV.HOLD_RATE ?? 0);
const page = new Trend('page_read', true);

export const options = {
  scenarios: {
    refresh: arrivals(Number(__ENV.RATE), __ENV.DURATION ?? '30s', 'refresh'),
    ...(HOLD_RATE > 0 ? { holds: arrivals(HOLD_RATE, __ENV.DURATION ?? '30s', 'hold') } : {}),
  },
  summaryTrendStats: trendStats,
};

export function refresh() {
  const res = http.get(`${__ENV.BASE}${__ENV.PAGE}`, { tags: { name: 'page' } });
  page.add(res.timings.duration);
  countFailure(res);
}

export function hold() {
  const i = exec.scenario.iterationInTest;
  attemptHold(__ENV.BASE, __ENV.SALE, tokens[(OFFSET + i) % tokens.length], `${__ENV.RUN}-${i}`);
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
