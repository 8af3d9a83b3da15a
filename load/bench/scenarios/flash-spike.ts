/**
 * flash-spike: BENCH_BUYERS (5,000) buyers hit a BENCH_UNITS (500) unit sale at its opening instant
 * (load/flash-spike.js), BENCH_REPEAT (1) times on the same stack, a fresh sale each time. Then two baselines with
 * the same crowd: a Lua decrement straight on Redis from Node, and the same k6 crowd against a no-op express app
 * behind the edge (load/edge) — the full path as a ratio of each.
 */
import { DataSource } from 'typeorm';
import { mysqlServerFromEnv, redisClient } from '@flash/stack';
import { startNoopStack } from '../../edge/noop-stack';
import { runK6, ms, type K6Result, type Latency } from '../k6';
import { bySidecar } from '../counters';
import { StackMeter, part } from '../meter';
import { log, machine, print, round, sleep, table, writeResults } from '../report';
import { type BenchStack, type Money, type SaleInvariant } from '../stack';

const env = process.env;
const BUYERS = Number(env.BENCH_BUYERS ?? 5000);
const UNITS = Number(env.BENCH_UNITS ?? 500);
const REPEAT = Number(env.BENCH_REPEAT ?? 1);

interface ProcessUsage { name: string; cpuSeconds: number; cpuPercentOfOneCore: number; peakRssMiB: number }

/** Seconds from the opening to the last answer k6 got (attempts, abandons and payments). */
const lastAnswerSeconds = (k6: K6Result) => round((k6.value('answer_done_after_opening', 'max') ?? 0) / 1000, 2);

async function spikeOnce(stack: BenchStack, run: number) {
  // New buyers every run, as every sale has: each service checks each token's signature once, as in a real opening.
  log(`run ${run}: minting ${BUYERS} buyer tokens (setup, not measured)`);
  const { file: tokensFile } = await stack.buyerTokens(BUYERS);
  const product = await stack.product();
  const opensAt = Date.now() + 8000 + BUYERS * 2;
  const sale = await stack.sale(product.id, UNITS, { opensAt });
  log(`run ${run}: sale of ${UNITS} units opens in ${Math.round((opensAt - Date.now()) / 1000)} s for ${BUYERS} buyers`);
  const meter = stack.meter();
  const attemptsBefore = await stack.purchaseMetric('purchase_attempts_total');
  const paymentsBefore = await stack.purchaseMetric('payments_total');
  const batchesBefore = await stack.purchaseTotal('hold_batch_attempts_count');
  const { result: k6, window } = await meter.window((follow) =>
    runK6('flash-spike.js', { BASE: stack.base, TOKENS: tokensFile, SALE: sale.id, OPENS_AT: String(opensAt) }, stack.file(`k6-spike-${run}.json`), (pid) => follow('k6', pid)));
  await meter.close();
  const attempt = k6.trend('purchase_attempt');
  const attemptSpanSeconds = Math.max(k6.value('attempt_done_after_opening', 'max') ?? 0, 1) / 1000;
  const purchaseSeconds = Math.max(k6.value('payment_done_after_opening', 'max') ?? 0, 1) / 1000;
  // Orders arrive through pub/sub; give them a moment, then check every invariant.
  const orderDb = await new DataSource({ type: 'mysql', ...dbSettings(), database: `${stack.id}_order` }).initialize();
  const ordersOfSale = async () => Number((await orderDb.query('SELECT COUNT(*) AS n FROM order_items WHERE sale_id = ?', [sale.id]))[0].n);
  let invariant: SaleInvariant;
  let orders: number;
  let tries = 0;
  do {
    if (tries++) await sleep(200);
    invariant = await stack.saleInvariant(sale.id, () => true);
    orders = await ordersOfSale();
  } while (!(invariant.consistent && orders === invariant.ledger.sold) && tries < 100);
  await orderDb.destroy();
  const held = invariant.ledger.held;
  const cpu = part(window.delta, 'cpu:');
  const processes: ProcessUsage[] = Object.entries(cpu).map(([name, cpuMs]) => ({
    name, cpuSeconds: round(cpuMs / 1000, 1)!, cpuPercentOfOneCore: Math.round((cpuMs / 10) / window.seconds), peakRssMiB: window.peakRssMiB[name] ?? 0,
  }));
  const summary = {
    run, saleId: sale.id, k6ExitCode: k6.exitCode, thresholdsPassed: k6.thresholdsPassed, k6Seconds: round(window.seconds, 1),
    serverErrors: k6.count('server_errors'),
    attemptsPerSecond: Math.round((attempt?.count ?? 0) / attemptSpanSeconds),
    purchasesPerSecond: Math.round(k6.count('paid') / purchaseSeconds),
    lastAnswerAfterOpeningSeconds: lastAnswerSeconds(k6),
    purchaseAttempt: attempt, payment: k6.trend('payment'), soldOutAnswer: k6.trend('sold_out_answer'),
    outcomes: { held: k6.count('held'), soldOut: k6.count('sold_out'), paid: k6.count('paid'), paymentFailed: k6.count('payment_failed'), abandoned: k6.count('abandoned') },
    answersByCode: diff(await stack.purchaseMetric('purchase_attempts_total'), attemptsBefore),
    paymentsByCode: diff(await stack.purchaseMetric('payments_total'), paymentsBefore),
    /** Hold batches written (each a lookup, a counter take and, when it got units, a transaction). */
    holdBatches: (await stack.purchaseTotal('hold_batch_attempts_count')) - batchesBefore,
    invariant: {
      ...invariant.ledger, quantity: invariant.quantity, orders,
      balances: invariant.ledgerBalances, consistent: invariant.consistent,
      oversold: Math.max(0, invariant.ledger.sold + held - invariant.quantity),
      lost: invariant.quantity - (invariant.ledger.available + held + invariant.ledger.sold),
      ordersEqualSold: orders === invariant.ledger.sold,
    },
    saleMoney: await stack.moneyInvariant({ saleId: sale.id }),
    /** Counted over the run (server-wide SQL): statements, calls into each sidecar, Redis commands; and the busiest sidecar series. */
    work: {
      sql: window.delta['sql:Questions'] ?? 0, redis: window.delta['redis:commands'] ?? 0, sidecars: part(bySidecar(window.delta), 'sidecar:'),
      busiestSidecarSeries: Object.entries(part(window.delta, 'sidecar:')).sort((a, b) => b[1] - a[1]).slice(0, 12),
    },
    processes,
  };
  return { summary, tokensFile };
}

type SpikeRun = Awaited<ReturnType<typeof spikeOnce>>['summary'];

export async function flashSpike(stack: BenchStack): Promise<number> {
  const runs: SpikeRun[] = [];
  let tokensFile = '';
  for (let run = 1; run <= REPEAT; run++) {
    const once = await spikeOnce(stack, run);
    runs.push(once.summary);
    tokensFile = once.tokensFile;
  }
  const money = await stack.moneyInvariant();

  log('baseline: the same reservations as a Lua decrement on Redis');
  const lua = await luaBaseline(stack.id, BUYERS, UNITS);
  log('baseline: the same crowd against a no-op express app behind the edge');
  const noop = await noopBaseline(stack, tokensFile);
  const ratio = (of: number) => (r: SpikeRun) => round(r.attemptsPerSecond / of, 3);
  const results = {
    scenario: 'flash-spike', at: new Date().toISOString(), machine: machine(), buyers: BUYERS, units: UNITS, repeat: REPEAT,
    paymentFailureRate: Number(stack.env.PAYMENT_FAILURE_RATE),
    runs: runs.map((r) => ({ ...r, ofLuaBaseline: ratio(lua.attemptsPerSecond)(r), ofNoopBaseline: ratio(noop.attemptsPerSecond)(r) })),
    money, luaBaseline: lua, noopBaseline: noop,
  };
  print(...runs.map((r) => runReport(r, results.runs[r.run - 1]!)), baselineReport(results.runs, lua, noop), moneyLine('shop', money));
  writeResults('flash-spike', results);
  const broken = (r: SpikeRun) => !r.invariant.balances || !r.invariant.consistent || !r.invariant.ordersEqualSold || r.invariant.lost !== 0
    || r.invariant.oversold !== 0 || r.serverErrors > 0 || !r.saleMoney.consistent;
  return runs.some(broken) || !money.consistent ? 1 : 0;
}

function runReport(r: SpikeRun, ratios: { ofLuaBaseline: number | null; ofNoopBaseline: number | null }): string {
  const out = [`flash-spike run ${r.run} — k6 ${r.k6Seconds} s, thresholds ${r.thresholdsPassed ? 'passed' : 'crossed'}`];
  const line = (label: string, t: Latency | null) => t && out.push(`  ${label.padEnd(22)} p50 ${t.p50} ms   p95 ${t.p95} ms   p99 ${t.p99} ms   (${t.count})`);
  out.push(`  buyers ${BUYERS}, units ${UNITS}`);
  out.push(`  attempts/s ${r.attemptsPerSecond}   purchases/s ${r.purchasesPerSecond}   last answer ${r.lastAnswerAfterOpeningSeconds} s after opening`);
  line('purchase attempt', r.purchaseAttempt);
  line('payment', r.payment);
  line('sold-out answer', r.soldOutAnswer);
  out.push(`  outcomes ${JSON.stringify(r.outcomes)}`);
  out.push(`  answers by code ${JSON.stringify(r.answersByCode)}   payments ${JSON.stringify(r.paymentsByCode)}   hold batches ${r.holdBatches}`);
  const i = r.invariant;
  out.push(`  invariant: sold ${i.sold} + held ${i.held} + available ${i.available} = ${i.sold + i.held + i.available} of ${i.quantity}; orders ${i.orders}; oversold ${i.oversold}, lost ${i.lost} → ${i.balances && i.consistent && i.ordersEqualSold ? 'OK' : 'BROKEN'}`);
  out.push(moneyLine('sale', r.saleMoney));
  out.push(`  counted: ${r.work.sql} SQL statements (server-wide), ${r.work.redis} Redis commands, sidecar calls ${JSON.stringify(r.work.sidecars)}`);
  out.push(`  5xx answers ${r.serverErrors}   full path = ${ratios.ofLuaBaseline} of the Lua baseline, ${ratios.ofNoopBaseline} of the no-op baseline`);
  out.push('', table(['process', 'cpu s', '% of a core', 'peak RSS MiB'], r.processes.map((p) => [p.name, p.cpuSeconds, p.cpuPercentOfOneCore, p.peakRssMiB])));
  return out.join('\n');
}

function baselineReport(runs: (SpikeRun & { ofLuaBaseline: number | null; ofNoopBaseline: number | null })[], lua: Awaited<ReturnType<typeof luaBaseline>>, noop: Awaited<ReturnType<typeof noopBaseline>>): string {
  return [
    table(
      ['run', 'attempts/s', 'last answer s after opening', 'attempt p99 ms', 'sold-out p99 ms', '5xx', 'invariant', 'of Lua baseline', 'of no-op baseline'],
      runs.map((r) => [r.run, r.attemptsPerSecond, r.lastAnswerAfterOpeningSeconds, r.purchaseAttempt?.p99, r.soldOutAnswer?.p99, r.serverErrors,
        r.invariant.balances && r.invariant.consistent && r.invariant.ordersEqualSold ? 'OK' : 'BROKEN', r.ofLuaBaseline, r.ofNoopBaseline]),
    ),
    `Lua baseline (Redis only, from Node): ${lua.attemptsPerSecond} reservations/s, p50 ${lua.p50} / p95 ${lua.p95} / p99 ${lua.p99} ms`,
    `No-op baseline (the same k6 crowd, edge → express app answering 401): ${noop.attemptsPerSecond} answers/s, last answer ${noop.lastAnswerAfterOpeningSeconds} s after opening, `
      + `p50 ${noop.latency?.p50} / p99 ${noop.latency?.p99} ms, ${noop.serverErrors} 5xx; CPU ms per request: edge ${noop.cpuMsPerRequest.edge}, app ${noop.cpuMsPerRequest.app}, k6 ${noop.cpuMsPerRequest.k6}`,
  ].join('\n');
}

const moneyLine = (label: string, m: Money) =>
  `  money (${label}): charged ${m.charged} − refunded ${m.refunded} = ${m.charged - m.refunded}; standing orders ${m.standing}; `
  + `refunds pending ${m.refundsPending.count} → ${m.consistent ? 'OK' : 'BROKEN'}`;

const diff = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => (v as number) > 0));

function dbSettings() {
  const db = mysqlServerFromEnv();
  return { host: db.host, port: db.port, username: db.user, password: db.password };
}

/** The limit of the machine: one Lua decrement per reservation, straight on Redis, same crowd. */
async function luaBaseline(id: string, buyers: number, units: number) {
  const clients = Array.from({ length: 8 }, () => redisClient());
  const key = `${id}:baseline-stock`;
  await clients[0]!.set(key, String(units));
  const script = "local v = redis.call('DECR', KEYS[1]) if v < 0 then redis.call('INCR', KEYS[1]) return -1 end return v";
  const latencies: number[] = [];
  let reserved = 0;
  const began = performance.now();
  await Promise.all(Array.from({ length: buyers }, async (_, i) => {
    const start = performance.now();
    const left = (await clients[i % clients.length]!.eval(script, 1, key)) as number;
    latencies.push(performance.now() - start);
    if (left >= 0) reserved++;
  }));
  const seconds = (performance.now() - began) / 1000;
  await clients[0]!.del(key);
  clients.forEach((c) => c.disconnect());
  latencies.sort((a, b) => a - b);
  const p = (q: number) => ms(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]);
  return { attemptsPerSecond: Math.round(buyers / seconds), reserved, p50: p(0.5), p95: p(0.95), p99: p(0.99) };
}

/** What the crowd costs when the service does nothing: the same k6 script against a no-op app behind the edge. */
async function noopBaseline(stack: BenchStack, tokensFile: string) {
  const noop = await startNoopStack();
  try {
    const meter = new StackMeter([{ name: 'edge', pid: noop.edgePid }, { name: 'app', pid: noop.app.pid! }]);
    const opensAt = Date.now() + 8000 + BUYERS * 2;
    const { result: k6, window } = await meter.window((follow) => runK6('flash-spike.js', {
      BASE: `http://127.0.0.1:${noop.edgePort}`, TOKENS: tokensFile, SALE: 'noop', OPENS_AT: String(opensAt),
    }, stack.file('k6-noop.json'), (pid) => follow('k6', pid)));
    await meter.close();
    const latency = k6.trend('purchase_attempt');
    const requests = latency?.count ?? 0;
    const cpu = part(window.delta, 'cpu:');
    const perRequest = (v: number | undefined) => (requests ? round((v ?? 0) / requests, 3) : null);
    return {
      attemptsPerSecond: Math.round(requests / (Math.max(k6.value('attempt_done_after_opening', 'max') ?? 0, 1) / 1000)),
      lastAnswerAfterOpeningSeconds: lastAnswerSeconds(k6),
      latency, serverErrors: k6.count('server_errors'),
      cpuMsPerRequest: { edge: perRequest(cpu.edge), app: perRequest(cpu.app), k6: perRequest(cpu.k6) },
      peakRssMiB: window.peakRssMiB,
    };
  } finally {
    await noop.stop();
  }
}
