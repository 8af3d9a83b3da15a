/**
 * unauthenticated: the per-request overhead of the real service, with no business logic behind it. Each step offers
 * BENCH_STEPS (1,000, 2,000) `POST /api/flash-sales/<id>/purchases` a second without a token for BENCH_STEP_SECONDS
 * (30), through the edge (load/noop.js): purchase-service answers 401 at its auth guard. The same requests the edge
 * bench (`npm run bench:edge`) sends to a no-op express app, so the two tables compare.
 */
import { log, machine, print, writeResults } from '../report';
import { type BenchStack } from '../stack';
import { runStep, stepRates, stepSeconds, stepTables, type StepResult } from '../steps';

export async function unauthenticated(stack: BenchStack): Promise<number> {
  const rates = stepRates([1000, 2000]);
  const seconds = stepSeconds();
  const meter = stack.meter();
  const steps: StepResult[] = [];
  try {
    for (const rate of rates) {
      log(`${rate}/s without a token`);
      steps.push(await runStep(stack, meter, {
        label: `${rate}/s`, rate, script: 'noop.js', vars: {}, latency: 'http_req_duration', units: (k6) => k6.count('http_reqs'),
      }));
    }
  } finally {
    await meter.close();
  }
  print(`unauthenticated — attempts without a token (401 at purchase-service's auth guard), open model, ${seconds} s a step`, ...stepTables(steps, 'answer'));
  writeResults('unauthenticated', { scenario: 'unauthenticated', at: new Date().toISOString(), machine: machine(), stepSeconds: seconds, steps });
  return steps.every((s) => s.serverErrors === 0) ? 0 : 1;
}
