/**
 * refresh: the crowd pressing refresh during a live sale. For each page of BENCH_REFRESH_PAGES (sale, product) each
 * step offers BENCH_STEPS reads a second (1,000, 2,000, 3,000) for BENCH_STEP_SECONDS (30), while
 * BENCH_REFRESH_HOLD_RATE (20) buyers a second hold units of the sale (load/page-refresh.js). Beside k6 the bench
 * reads the sale page and the sale's invariant every BENCH_STALENESS_EVERY_MS (100) and reports how stale the page's
 * `remaining` was: how long before the read the ledger last could have shown that value. A step's dropped
 * iterations count both k6 scenarios (reads and the holds beside them).
 */
import { succeeded } from '@flash/stack';
import { log, machine, print, round, sleep, table, writeResults } from '../report';
import { type BenchStack } from '../stack';
import { bestRate, P99_TARGET_MS, runStep, stepRates, stepSeconds, stepTables, type StepResult } from '../steps';

const env = process.env;
const EVERY_MS = Number(env.BENCH_STALENESS_EVERY_MS ?? 100);

interface Reading { at: number; halfRoundTripMs: number; value: number }

/** Samples the page's `remaining` and the ledger's and counter's `available` until `done`. */
async function sampleRemaining(stack: BenchStack, saleId: string, done: Promise<void>) {
  const page: Reading[] = [];
  const ledger: Reading[] = [];
  const counter: Reading[] = [];
  let finished = false;
  void done.then(() => (finished = true));
  const timed = async <T>(read: () => Promise<T>): Promise<{ at: number; halfRoundTripMs: number; value: T }> => {
    const start = performance.now();
    const value = await read();
    const end = performance.now();
    return { at: (start + end) / 2, halfRoundTripMs: (end - start) / 2, value };
  };
  while (!finished) {
    const [p, i] = await Promise.all([
      timed(async () => (await (await fetch(`${stack.base}/api/flash-sales/${saleId}`)).json() as { remaining: number }).remaining),
      timed(() => succeeded(stack.admin.GET('/api/admin/flash-sales/{id}/invariant', { params: { path: { id: saleId } } }))),
    ]);
    page.push({ ...p, value: p.value });
    ledger.push({ ...i, value: i.value.ledger.available });
    counter.push({ ...i, value: i.value.counter.available });
    await sleep(EVERY_MS);
  }
  return { againstLedger: staleness(page, ledger), againstCounter: staleness(page, counter) };
}

/**
 * For each page reading (t, r): the truth (ledger or counter) could have shown r from a truth reading equal to r,
 * or from one of two readings whose values bracket r, until the next truth reading. The reading is fresh when that latest possible moment
 * before t overlaps it in time; otherwise it was stale by at least t − that moment (a lower bound; the truth may
 * have left r earlier, by up to the gap between truth readings). A value the truth only reaches after t is "ahead";
 * one it never passes is "unmatched".
 */
export function staleness(page: Reading[], truth: Reading[]) {
  let maxMs = 0;
  let ahead = 0;
  let unmatched = 0;
  let stale = 0;
  const between = (r: number, a: Reading, b: Reading) => Math.min(a.value, b.value) <= r && r <= Math.max(a.value, b.value);
  for (const read of page) {
    let latest = -Infinity;
    let later = false;
    truth.forEach((t, i) => {
      const next = truth[i + 1];
      const possibleFrom = t.value === read.value ? t.at : next && between(read.value, t, next) ? t.at : undefined;
      if (possibleFrom === undefined) return;
      if (possibleFrom > read.at + read.halfRoundTripMs + t.halfRoundTripMs) later = true;
      else latest = Math.max(latest, next ? Math.min(next.at, read.at) : t.at);
    });
    if (latest === -Infinity) {
      if (later) ahead++;
      else unmatched++;
      continue;
    }
    const late = read.at - latest - read.halfRoundTripMs;
    if (late > 0) {
      stale++;
      maxMs = Math.max(maxMs, late);
    }
  }
  const gaps = truth.slice(1).map((t, i) => t.at - truth[i]!.at);
  return {
    readings: page.length, staleReadings: stale, maxStalenessMs: round(maxMs, 0), maxTruthGapMs: round(Math.max(0, ...gaps), 0), ahead, unmatched,
  };
}

export async function refresh(stack: BenchStack): Promise<number> {
  const rates = stepRates([1000, 2000, 3000]);
  const seconds = stepSeconds();
  const pages = (env.BENCH_REFRESH_PAGES ?? 'sale,product').split(',') as ('sale' | 'product')[];
  const holdRate = Number(env.BENCH_REFRESH_HOLD_RATE ?? 20);
  const holdsPerStep = holdRate * seconds;
  const { file } = await stack.buyerTokens(Math.max(1, holdsPerStep * rates.length * pages.length));
  const product = await stack.product(1000);
  const sale = await stack.sale(product.id, Math.max(1000, holdsPerStep * rates.length * pages.length * 2));
  const meter = stack.meter();
  const steps: StepResult[] = [];
  let offset = 0;
  try {
    for (const page of pages) {
      for (const rate of rates) {
        steps.push(await runStep(stack, meter, {
          label: `${page} page ${rate}/s`, rate, script: 'page-refresh.js',
          vars: { TOKENS: file, SALE: sale.id, OFFSET: String(offset), HOLD_RATE: String(holdRate), PAGE: page === 'sale' ? `/api/flash-sales/${sale.id}` : `/api/products/${product.id}` },
          latency: 'page_read', units: (k6) => k6.trend('page_read')?.count ?? 0, saleId: sale.id,
          alongside: (done) => sampleRemaining(stack, sale.id, done),
        }));
        offset += holdsPerStep;
      }
    }
  } finally {
    await meter.close();
  }
  log('done');
  const stalenessRows = steps.map((s) => {
    const a = s.alongside as Awaited<ReturnType<typeof sampleRemaining>>;
    return [s.label, a.againstLedger.readings, a.againstLedger.staleReadings, a.againstLedger.maxStalenessMs, a.againstCounter.maxStalenessMs, a.againstLedger.maxTruthGapMs, a.againstLedger.ahead, a.againstLedger.unmatched];
  });
  const maxStaleness = Math.max(0, ...steps.map((s) => (s.alongside as Awaited<ReturnType<typeof sampleRemaining>>).againstLedger.maxStalenessMs ?? 0));
  const best = Object.fromEntries(pages.map((p) => [p, bestRate(steps.filter((s) => s.label.startsWith(p)))]));
  print(
    `refresh — page reads during a live sale (${holdRate} holds/s beside them), open model, ${seconds} s a step`,
    ...stepTables(steps, 'read'),
    table(['staleness of the sale page\'s remaining', 'readings', 'stale', 'max ms vs ledger', 'max ms vs counter', 'max gap between ledger readings ms', 'ahead', 'unmatched'], stalenessRows),
    `max staleness observed: ${maxStaleness} ms behind the ledger (a lower bound: up to the gap between ledger readings more)`,
    ...pages.map((p) => `highest ${p}-page rate with p99 ≤ ${P99_TARGET_MS} ms, 0 dropped, 0 5xx: ${best[p] ? `${best[p]} reads/s` : 'none of the steps'}`),
  );
  writeResults('refresh', {
    scenario: 'refresh', at: new Date().toISOString(), machine: machine(), stepSeconds: seconds, p99TargetMs: P99_TARGET_MS, holdsPerSecondBeside: holdRate,
    saleId: sale.id, productId: product.id, steps, maxStalenessMs: maxStaleness, bestRate: best,
  });
  return steps.every((s) => s.invariant?.consistent && s.invariant.ledgerBalances) ? 0 : 1;
}
