/**
 * steady-browse (catalog, product pages and sales at BENCH_VUS for BENCH_DURATION) and mixed (browsing, regular
 * checkout and account actions; afterwards the product's stock ledger must balance): closed-model k6 runs, measured
 * per process.
 */
import { writeFileSync } from 'node:fs';
import { apiCall, signUpShopper } from '@flash/stack';
import { runK6 } from '../k6';
import { part } from '../meter';
import { machine, print, round, table, writeResults } from '../report';
import type { BenchStack } from '../stack';

const env = process.env;
const MIXED_STOCK = 1_000_000;

export async function browse(stack: BenchStack, scenario: 'steady-browse' | 'mixed'): Promise<number> {
  const product = await stack.product(scenario === 'mixed' ? MIXED_STOCK : 0);
  const vars: Record<string, string> = {
    BASE: stack.base,
    ...(env.BENCH_DURATION ? { DURATION: env.BENCH_DURATION } : {}),
    ...(env.BENCH_VUS ? { VUS: env.BENCH_VUS } : {}),
  };
  if (scenario === 'mixed') {
    const accounts = [];
    for (let i = 0; i < 5; i++) {
      accounts.push(await signUpShopper(stack.base, `http://127.0.0.1:${stack.env.MAIL_WEB_PORT}`, {
        name: `Bench ${i}`, email: `bench-${i}-${stack.id}@example.test`, password: 'Bench!pass1', phone: '010-1234-5678', address: 'Seoul',
      }));
    }
    writeFileSync(stack.file('accounts.json'), JSON.stringify(accounts));
    Object.assign(vars, { ACCOUNTS: stack.file('accounts.json'), PRODUCT: product.id });
  }
  const meter = stack.meter();
  const { result: k6, window } = await meter.window((follow) => runK6(`${scenario}.js`, vars, stack.file('k6-summary.json'), (pid) => follow('k6', pid)));
  await meter.close();
  const cpu = part(window.delta, 'cpu:');
  const summary: Record<string, unknown> = {
    scenario, at: new Date().toISOString(), machine: machine(), k6ExitCode: k6.exitCode, thresholdsPassed: k6.thresholdsPassed, k6Seconds: round(window.seconds, 1),
    serverErrors: k6.count('server_errors'),
    requestsPerSecond: round(k6.value('http_reqs', 'rate') ?? 0, 1),
    httpRequest: k6.trend('http_req_duration'),
    ...(scenario === 'mixed' ? { checkout: k6.trend('checkout') } : {}),
    processes: Object.entries(cpu).map(([name, ms]) => ({ name, cpuSeconds: round(ms / 1000, 1), cpuPercentOfOneCore: Math.round(ms / 10 / window.seconds), peakRssMiB: window.peakRssMiB[name] ?? 0 })),
  };
  let exitCode = (summary.serverErrors as number) > 0 ? 1 : 0;
  if (scenario === 'mixed') {
    // A Dapr-only route: asked as product-service's sidecar would, with its app token.
    const levels = (await apiCall(`http://127.0.0.1:${stack.ports('product-service').app}`, `/internal/stock/${product.id}`, { headers: { 'dapr-api-token': stack.secrets().APP_API_TOKEN! } })).body;
    const balances = levels.available + levels.reserved + levels.sold === MIXED_STOCK;
    summary.invariant = { ...levels, quantity: MIXED_STOCK, balances };
    if (!balances) exitCode = 1;
  }
  summary.money = await stack.moneyInvariant();
  if (!(summary.money as { consistent: boolean }).consistent) exitCode = 1;
  const t = (label: string, v: ReturnType<typeof k6.trend>) => v && `  ${label.padEnd(14)} p50 ${v.p50} ms   p95 ${v.p95} ms   p99 ${v.p99} ms   (${v.count})`;
  print(
    [
      `${scenario} — k6 ${summary.k6Seconds} s, thresholds ${k6.thresholdsPassed ? 'passed' : 'crossed'}`,
      `  requests/s ${summary.requestsPerSecond}`,
      t('http request', k6.trend('http_req_duration')),
      scenario === 'mixed' ? t('checkout', k6.trend('checkout')) : null,
      summary.invariant ? `  stock: ${JSON.stringify(summary.invariant)}` : null,
      `  money (shop): ${(summary.money as { consistent: boolean }).consistent ? 'OK' : 'BROKEN'}`,
      `  5xx answers ${summary.serverErrors}`,
    ].filter(Boolean).join('\n'),
    table(['process', 'cpu s', '% of a core', 'peak RSS MiB'], (summary.processes as { name: string; cpuSeconds: number; cpuPercentOfOneCore: number; peakRssMiB: number }[]).map((p) => [p.name, p.cpuSeconds, p.cpuPercentOfOneCore, p.peakRssMiB])),
  );
  writeResults(scenario, summary);
  return exitCode;
}
