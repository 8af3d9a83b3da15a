/**
 * capacity: the open model of the opening second. Each step offers BENCH_STEPS holds a second (100, 250, 500,
 * 1,000, 1,500, 2,000) for BENCH_STEP_SECONDS (30) to a fresh sale with a unit for every attempt, from distinct
 * logged-in buyers (load/hold-attempts.js); the cost is divided by the attempts that held a unit.
 */
import { log, machine, print, writeResults } from '../report';
import { type BenchStack } from '../stack';
import { bestRate, P99_TARGET_MS, runStep, stepRates, stepSeconds, stepTables, type StepResult } from '../steps';

export async function capacity(stack: BenchStack): Promise<number> {
  const rates = stepRates([100, 250, 500, 1000, 1500, 2000]);
  const seconds = stepSeconds();
  const buyers = Math.max(...rates) * seconds;
  log(`minting ${buyers} buyer tokens (setup, not measured)`);
  const { file: tokens } = await stack.buyerTokens(buyers);
  const product = await stack.product();
  const meter = stack.meter();
  const steps: StepResult[] = [];
  try {
    for (const rate of rates) {
      const sale = await stack.sale(product.id, rate * seconds + 100);
      steps.push(await runStep(stack, meter, {
        label: `${rate}/s`, rate, script: 'hold-attempts.js', vars: { TOKENS: tokens, SALE: sale.id },
        latency: 'purchase_attempt', units: (k6) => k6.count('held'), saleId: sale.id,
      }));
    }
  } finally {
    await meter.close();
  }
  const best = bestRate(steps);
  print(
    `capacity — hold attempts, open model, ${seconds} s a step, a fresh sale and distinct buyers each step`,
    ...stepTables(steps, 'held attempt'),
    `highest rate with p99 ≤ ${P99_TARGET_MS} ms, 0 dropped, 0 5xx: ${best ? `${best} holds/s` : 'none of the steps'}`,
  );
  writeResults('capacity', { scenario: 'capacity', at: new Date().toISOString(), machine: machine(), stepSeconds: seconds, p99TargetMs: P99_TARGET_MS, steps, bestRate: best });
  return steps.every((s) => !s.invariant || (s.invariant.consistent && s.invariant.ledgerBalances)) ? 0 : 1;
}
