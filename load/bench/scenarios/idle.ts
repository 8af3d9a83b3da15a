/**
 * idle: what the stack costs when nobody shops. After BENCH_SETTLE_SECONDS (15) it sits idle BENCH_IDLE_SECONDS (60)
 * while the shop is empty; then BENCH_IDLE_HOLDS (50,000) holds are made through the API by BENCH_IDLE_SEED_VUS
 * (50) buyers at a time (load/seed-holds.js: six in ten pay, two abandon, two let the hold run out), over sales of at
 * most 10,000 holds, each hold lasting BENCH_IDLE_HOLD_SECONDS (20); once every hold has expired and the money has
 * settled it sits idle again as long. Reported: CPU % of one core per process, SQL statements/s, sidecar calls/s, Redis commands/s.
 */
import { sum } from '../meter';
import { runK6 } from '../k6';
import { log, machine, print, round, sleep, table, writeResults } from '../report';
import { type BenchStack, type SaleInvariant } from '../stack';
import { costPerUnit, idleRates, K6 } from '../steps';
import { OWN_SQL_COUNTERS, SQL_COUNTERS } from '../counters';

const env = process.env;
const SALE_SIZE = 10_000;

export async function idle(stack: BenchStack): Promise<number> {
  const holds = Number(env.BENCH_IDLE_HOLDS ?? 50_000);
  const seconds = Number(env.BENCH_IDLE_SECONDS ?? 60);
  const holdSeconds = Number(env.BENCH_IDLE_HOLD_SECONDS ?? 20);
  const saleCount = Math.ceil(holds / SALE_SIZE);
  const perSale = Math.ceil(holds / saleCount);
  // Seeding 50,000 holds at today's pace takes most of an hour: the tokens outlive it.
  const { file } = await stack.buyerTokens(perSale, 6 * 3600);
  const product = await stack.product();
  const meter = stack.meter();
  try {
    // The first seconds after start-up still warm up (JIT, first connections, the first sweeps): not idle yet.
    await sleep(Number(env.BENCH_SETTLE_SECONDS ?? 15) * 1000);
    log(`idle ${seconds} s with an empty shop`);
    const empty = await meter.idle(seconds);

    const sales: { id: string }[] = [];
    for (let i = 0; i < saleCount; i++) sales.push(await stack.sale(product.id, perSale, { holdSeconds }));
    log(`making ${holds} holds in ${saleCount} sale(s) through the API`);
    const { result: k6, window: seeding } = await meter.window((follow) => runK6('seed-holds.js', {
      BASE: stack.base, TOKENS: file, SALES: sales.map((s) => s.id).join(','), HOLDS: String(holds), VUS: env.BENCH_IDLE_SEED_VUS ?? '50', RUN: stack.id,
    }, stack.file('k6-seed.json'), (pid) => follow(K6, pid)));
    const made = { held: k6.count('held'), paid: k6.count('paid'), paymentFailed: k6.count('payment_failed'), abandoned: k6.count('abandoned'), leftToExpire: k6.count('left_to_expire'), serverErrors: k6.count('server_errors') };
    log(`made ${JSON.stringify(made)}; waiting for every hold to expire and the money to settle`);
    // Seeding 50,000 holds can outlast the admin's access token.
    await stack.relogin();
    const invariants: SaleInvariant[] = [];
    for (const sale of sales) invariants.push(await stack.saleInvariant(sale.id, (i) => i.consistent && i.purchases.held === 0, (holdSeconds + 120) * 1000));
    const money = await stack.moneyInvariant();

    log(`idle ${seconds} s after ${made.held} holds`);
    const after = await meter.idle(seconds);
    const rows = (label: string, perSecond: Record<string, number>) => ({ label, ...idleRates(perSecond) });
    const periods = [rows('empty shop', empty.perSecond), rows(`after ${made.held} holds`, after.perSecond)];
    const names = [...new Set(periods.flatMap((p) => Object.keys(p.cpuPercentOfOneCore)))];
    const purchases = invariants.reduce((acc, i) => {
      for (const [k, v] of Object.entries(i.purchases)) acc[k] = (acc[k] ?? 0) + v;
      return acc;
    }, {} as Record<string, number>);
    const ours = (p: (typeof periods)[number]) => round(sum(Object.fromEntries(Object.entries(p.cpuPercentOfOneCore).filter(([k]) => k !== K6).map(([k, v]) => [k, v ?? 0]))), 1);
    const seedCost = costPerUnit(seeding, empty.perSecond, made.held);
    const results = {
      scenario: 'idle', at: new Date().toISOString(), machine: machine(), idleSeconds: seconds, holdsAsked: holds, holdSeconds, sales: sales.map((s) => s.id),
      made, purchases, invariantsConsistent: invariants.every((i) => i.consistent && i.ledgerBalances), money,
      periods: periods.map((p) => ({ ...p, cpuPercentOfOneCoreOurs: ours(p) })),
      seeding: { seconds: round(seeding.seconds, 1), holdsPerSecond: round(made.held / seeding.seconds, 1), perHold: seedCost, peakRssMiB: seeding.peakRssMiB },
      idleWindows: { empty: empty.window, after: after.window },
    };
    print(
      `idle — the stack with nobody shopping, ${seconds} s each, before and after ${made.held} holds (${JSON.stringify(purchases)})`,
      table(['CPU % of one core', ...periods.map((p) => p.label)], [
        ...names.map((n) => [n, ...periods.map((p) => p.cpuPercentOfOneCore[n])]),
        ['**all of ours**', ...periods.map(ours)],
      ]),
      table(['per second', ...periods.map((p) => p.label)], [
        ...Object.keys(OWN_SQL_COUNTERS).map((c) => [`SQL ${c} (stack's own users)`, ...periods.map((p) => p.ownSqlPerSecond[c])]),
        ...SQL_COUNTERS.map((c) => [`SQL ${c} (whole server)`, ...periods.map((p) => p.sqlPerSecond[c])]),
        ['sidecar calls (ours)', ...periods.map((p) => p.sidecarCallsPerSecond)],
        ['Redis commands (whole server)', ...periods.map((p) => p.redisCommandsPerSecond)],
      ]),
      `seeding: ${results.seeding.holdsPerSecond} holds/s; per hold above the empty shop's idle: ${seedCost.cpuMsTotal} CPU ms (ours; k6 ${seedCost.k6CpuMs}), `
        + `${seedCost.ownSql.statements ?? `${seedCost.sql.Questions} (server)`} SQL, ${seedCost.sidecarCallsTotal} sidecar calls, ${seedCost.redisCommands} Redis commands (payment and abandon included); ${made.serverErrors} 5xx`,
      `invariants: ${results.invariantsConsistent ? 'OK' : 'BROKEN'} in every sale; money ${money.consistent ? 'OK' : 'BROKEN'}`,
      'MariaDB and Redis are the machine\'s, shared with other runs: their CPU and counts include whatever else ran meanwhile.',
    );
    writeResults('idle', results);
    return results.invariantsConsistent && money.consistent ? 0 : 1;
  } finally {
    await meter.close();
  }
}
