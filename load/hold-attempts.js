// hold-attempts: logged-in buyers try to hold a unit of SALE at RATE attempts a second for DURATION (open model).
// Iteration i is buyer TOKENS[(OFFSET + i) mod their number], with a new Idempotency-Key: distinct buyers as long as
// there are enough tokens (capacity), shoppers retrying a sold-out sale when there are fewer (sold-out).
import exec from 'k6/execution';
import { SharedArray } from 'k6/data';
import { arrivals, attemptHold, trendStats } from './lib/hold.js';

const tokens = new SharedArray('tokens', () => JSON.parse(open(__ENV.TOKENS)));
const OFFSET = Number(__ENV.OFFSET ?? 0);

export const options = {
  scenarios: { attempts: arrivals(Number(__ENV.RATE), __ENV.DURATION ?? '30s') },
  summaryTrendStats: trendStats,
};

export default function () {
  const i = exec.scenario.iterationInTest;
  attemptHold(__ENV.BASE, __ENV.SALE, tokens[(OFFSET + i) % tokens.length], `${__ENV.RUN}-${i}`);
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
