/**
 * sold-out: the crowd behind the last unit. One sale of one unit, bought and paid before the run; then each step
 * offers BENCH_STEPS attempts a second (1,000, 1,500, 2,000, 3,000) for BENCH_STEP_SECONDS (30) from
 * BENCH_SOLD_OUT_BUYERS (10,000) logged-in buyers taking turns, each attempt with a new Idempotency-Key; the cost is
 * divided by the SOLD_OUT refusals.
 */
import { randomUUID } from 'node:crypto';
import { apiClient } from '@flash/stack';
import { log, machine, print, writeResults } from '../report';
import { type BenchStack } from '../stack';
import { bestRate, P99_TARGET_MS, runStep, stepRates, stepSeconds, stepTables, type StepResult } from '../steps';

/** Buys the sale's one unit: hold and pay, with the next buyer when the simulated provider declines. */
async function sellOut(stack: BenchStack, saleId: string, tokens: string[]): Promise<void> {
  for (const token of tokens) {
    const buyer = apiClient(stack.base, { token });
    const hold = await buyer.POST('/api/flash-sales/{id}/purchases', { params: { path: { id: saleId }, header: { 'idempotency-key': randomUUID() } } });
    if (!hold.data) throw new Error(`the first hold of the sold-out sale failed: ${hold.response.status} ${JSON.stringify(hold.error)}`);
    const paid = await buyer.POST('/api/purchases/{id}/payment', { params: { path: { id: hold.data.purchaseId } } });
    if (paid.response.ok) return;
    log(`payment declined (${paid.response.status}); the unit comes back, the next buyer tries`);
    await stack.saleInvariant(saleId, (i) => i.ledger.available === 1);
  }
  throw new Error('no buyer could buy the one unit');
}

export async function soldOut(stack: BenchStack): Promise<number> {
  const rates = stepRates([1000, 1500, 2000, 3000]);
  const seconds = stepSeconds();
  const { file, tokens } = await stack.buyerTokens(Number(process.env.BENCH_SOLD_OUT_BUYERS ?? 10_000));
  const product = await stack.product();
  const sale = await stack.sale(product.id, 1);
  await sellOut(stack, sale.id, tokens);
  const meter = stack.meter();
  const steps: StepResult[] = [];
  let offset = 0;
  try {
    for (const rate of rates) {
      steps.push(await runStep(stack, meter, {
        label: `${rate}/s`, rate, script: 'hold-attempts.js', vars: { TOKENS: file, SALE: sale.id, OFFSET: String(offset) },
        latency: 'purchase_attempt', units: (k6) => k6.count('sold_out'), saleId: sale.id,
      }));
      offset += rate * seconds;
    }
  } finally {
    await meter.close();
  }
  const best = bestRate(steps);
  print(
    `sold-out — attempts on a sold-out sale, open model, ${seconds} s a step`,
    ...stepTables(steps, 'refusal'),
    `highest rate with p99 ≤ ${P99_TARGET_MS} ms, 0 dropped, 0 5xx: ${best ? `${best} refusals/s` : 'none of the steps'}`,
  );
  writeResults('sold-out', { scenario: 'sold-out', at: new Date().toISOString(), machine: machine(), stepSeconds: seconds, p99TargetMs: P99_TARGET_MS, saleId: sale.id, steps, bestRate: best });
  return steps.every((s) => s.invariant?.consistent && s.invariant.ledgerBalances && s.invariant.ledger.sold === 1) ? 0 : 1;
}
