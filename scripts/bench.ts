/**
 * `npm run bench -- <flash-spike|steady-browse|mixed>`: starts a stack of its own (real sidecars, own databases, keys
 * and topics), seeds it, runs the k6 scenario from load/, checks the invariants, measures every process, and prints
 * one summary (also written to results/bench-<scenario>-<time>.json). For flash-spike it also measures the baseline:
 * the same reservations as a Lua decrement straight on Redis from a Node client.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import {
  apiCall, apiClient, deleteRedisKeys, type ApiClient, type ApiSchema, dropDatabase, mysqlServerFromEnv, privateStackEnv, redisUrl, repoRoot, signUpShopper, startLocalStack, STACK_SERVICES, succeeded, toolsBin,
} from '@flash/stack';
import { readConfig as userConfig } from '../services/user-service/src/config';
import { SigningKeyEntity } from '../services/user-service/src/data/account.entities';
import { personalDataVault, signingKeyring } from '../services/user-service/src/service';
import { sample } from '../load/measure/proc';

const SCENARIOS = ['flash-spike', 'steady-browse', 'mixed'] as const;
type Scenario = (typeof SCENARIOS)[number];

const env = process.env;
const BUYERS = Number(env.BENCH_BUYERS ?? 5000);
const UNITS = Number(env.BENCH_UNITS ?? 500);
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const ms = (v: number | undefined) => (v === undefined ? null : Math.round(v * 10) / 10);

interface ProcessUsage { name: string; cpuSeconds: number; cpuPercentOfOneCore: number; peakRssMiB: number }

/** Names the processes that matter: our services, their sidecars, the edge, MailDev, MariaDB, Redis. */
function processesOf(stackPid: number, portBase: number, runDir: string): Map<string, number> {
  const found = new Map<string, number>([['edge + orchestrator', stackPid]]);
  for (const entry of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    const service = /services\/([a-z]+-service)\/src\/main\.ts/.exec(cmd)?.[1];
    const sidecar = /--app-id ([a-z-]+)/.exec(cmd)?.[1];
    const daprPort = Number(/--dapr-http-port (\d+)/.exec(cmd)?.[1]);
    const ours = daprPort > portBase + 500 && daprPort <= portBase + 504;
    if (service && cmd.includes('--import') && environOf(entry).includes(`STACK_RUN_DIR=${runDir}`)) found.set(service, Number(entry));
    else if (sidecar && ours) found.set(`${sidecar} daprd`, Number(entry));
    else if (/mariadbd|mysqld/.test(cmd.split(' ')[0] ?? '')) found.set('mariadb', Number(entry));
    else if (/redis-server/.test(cmd.split(' ')[0] ?? '')) found.set('redis', Number(entry));
  }
  return found;
}

function environOf(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return '';
  }
}

async function metric(url: string, name: string): Promise<Record<string, number>> {
  const text = await (await fetch(url)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}\\{outcome="([^"]+)"[^}]*\\} (\\d+)`).exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

const diff = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => (v as number) > 0));

/** The limit of the machine: one Lua decrement per reservation, straight on Redis, same crowd. */
async function luaBaseline(id: string, buyers: number, units: number) {
  const [host, port] = redisUrl().split(':');
  const clients = Array.from({ length: 8 }, () => new Redis({ host, port: Number(port), password: env.REDIS_PASSWORD || undefined }));
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

function runK6(script: string, vars: Record<string, string>): Promise<number> {
  const args = ['run', '--quiet', ...Object.entries(vars).flatMap(([k, v]) => ['-e', `${k}=${v}`]), path.join(repoRoot, 'load', script)];
  return new Promise((resolve) => {
    const k6 = spawn(path.join(toolsBin(), 'k6'), args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...env, K6_NO_USAGE_REPORT: 'true' } });
    k6.on('exit', (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<void> {
  const scenario = process.argv[2] as Scenario;
  if (!SCENARIOS.includes(scenario)) {
    process.stderr.write(`usage: npm run bench -- <${SCENARIOS.join('|')}>\n`);
    process.exit(2);
  }
  const id = `b${randomBytes(4).toString('hex')}`;
  const runDir = path.join(repoRoot, '.run', `bench-${id}`);
  /** The secrets the stack generated (.run/secrets.json of its run directory). */
  const stackSecrets = () => JSON.parse(readFileSync(path.join(runDir, 'secrets.json'), 'utf8')) as Record<string, string>;
  const stackEnv = {
    ...(await privateStackEnv(id, runDir)),
    PAYMENT_FAILURE_RATE: env.PAYMENT_FAILURE_RATE ?? '0.2',
    PAYMENT_LATENCY_MS: env.PAYMENT_LATENCY_MS ?? '20',
    LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
    SEED_DEMO_DATA: 'false',
  };
  const base = `http://127.0.0.1:${stackEnv.EDGE_PORT}`;
  const portBase = Number(stackEnv.STACK_PORT_BASE);
  log(`starting a stack of its own (${id}, edge ${base})`);
  const stack = startLocalStack(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], stackEnv);
  const stopStack = async () => {
    if (stack.child.exitCode === null) {
      stack.child.kill('SIGTERM');
      await new Promise((resolve) => stack.child.once('exit', resolve));
    }
    for (const s of STACK_SERVICES) await dropDatabase(mysqlServerFromEnv(), `${id}_${s}`);
    await deleteRedisKeys(`${id}*`);
    rmSync(runDir, { recursive: true, force: true });
  };
  let exitCode = 0;
  try {
    await stack.ready;
    const admin = await succeeded(apiClient(base).POST('/api/auth/login', { body: { email: 'admin@flash-sale.local', password: 'Admin123!' } }));
    const asAdmin = apiClient(base, { token: admin.accessToken });
    const product = await succeeded(asAdmin.POST('/api/admin/products', {
      body: { name: `Bench sneaker ${id}`, price: 129_000, stock: scenario === 'mixed' ? 1_000_000 : 0 },
    }));
    const vars: Record<string, string> = {
      BASE: base, SUMMARY: path.join(runDir, 'k6-summary.json'),
      ...(env.BENCH_DURATION ? { DURATION: env.BENCH_DURATION } : {}),
      ...(env.BENCH_VUS ? { VUS: env.BENCH_VUS } : {}),
    };
    let saleId: string | undefined;

    if (scenario === 'flash-spike') {
      log(`minting ${BUYERS} buyer tokens (setup, not measured)`);
      const config = userConfig({ ...env, ...stackSecrets(), DB_NAME: `${id}_user` });
      const db = await new DataSource({
        type: 'mysql', host: config.DB_HOST, port: config.DB_PORT, username: config.DB_USER, password: config.DB_PASSWORD,
        database: config.DB_NAME, entities: [SigningKeyEntity], timezone: 'Z',
      }).initialize();
      const keyring = signingKeyring(config, db, personalDataVault(config));
      const tokens = await Promise.all(Array.from({ length: BUYERS }, () => keyring.sign({ userId: randomUUID(), role: 'customer', sessionId: randomUUID() }, 900)));
      await db.destroy();
      writeFileSync(path.join(runDir, 'tokens.json'), JSON.stringify(tokens));
      const opensAt = Date.now() + 8000 + BUYERS * 2;
      const sale = await succeeded(asAdmin.POST('/api/admin/flash-sales', {
        body: {
          productId: product.id, quantity: UNITS, startsAt: new Date(opensAt).toISOString(),
          endsAt: new Date(opensAt + 3_600_000).toISOString(), holdSeconds: 300,
        },
      }));
      saleId = sale.id;
      Object.assign(vars, { TOKENS: path.join(runDir, 'tokens.json'), SALE: saleId, OPENS_AT: String(opensAt) });
      log(`sale of ${UNITS} units opens in ${Math.round((opensAt - Date.now()) / 1000)} s for ${BUYERS} buyers`);
    } else if (scenario === 'mixed') {
      const accounts = [];
      for (let i = 0; i < 5; i++) {
        const email = `bench-${i}-${id}@example.test`;
        accounts.push(await signUpShopper(base, `http://127.0.0.1:${stackEnv.MAIL_WEB_PORT}`, {
          name: `Bench ${i}`, email, password: 'Bench!pass1', phone: '010-1234-5678', address: 'Seoul',
        }));
      }
      writeFileSync(path.join(runDir, 'accounts.json'), JSON.stringify(accounts));
      Object.assign(vars, { ACCOUNTS: path.join(runDir, 'accounts.json'), PRODUCT: product.id });
    }

    const procs = processesOf(stack.child.pid!, portBase, runDir);
    const before = new Map([...procs].map(([name, pid]) => [name, sample(pid)]));
    const purchaseMetrics = `http://127.0.0.1:${portBase + 3}/metrics`;
    const attemptsBefore = await metric(purchaseMetrics, 'purchase_attempts_total');
    const paymentsBefore = await metric(purchaseMetrics, 'payments_total');
    const began = Date.now();
    log(`k6 ${scenario}`);
    const k6Exit = await runK6(`${scenario}.js`, vars);
    const seconds = (Date.now() - began) / 1000;
    const ticksPerSecond = 100;
    const usage: ProcessUsage[] = [...procs].map(([name, pid]) => {
      const start = before.get(name);
      const end = sample(pid);
      const cpu = start && end ? (end.ticks - start.ticks) / ticksPerSecond : 0;
      return { name, cpuSeconds: Math.round(cpu * 10) / 10, cpuPercentOfOneCore: Math.round((cpu / seconds) * 100), peakRssMiB: Math.round((end?.peakKiB ?? 0) / 1024) };
    });

    const k6 = JSON.parse(readFileSync(vars.SUMMARY!, 'utf8')) as { metrics: Record<string, { values: Record<string, number> }>; state: { testRunDurationMs: number } };
    const trend = (name: string) => {
      const v = k6.metrics[name]?.values;
      return v ? { count: v.count, p50: ms(v.med), p95: ms(v['p(95)']), p99: ms(v['p(99)']) } : null;
    };
    const count = (name: string) => k6.metrics[name]?.values.count ?? 0;
    const summary: Record<string, unknown> = {
      scenario, at: new Date().toISOString(), k6ExitCode: k6Exit, thresholdsPassed: k6Exit === 0, k6Seconds: Math.round(seconds * 10) / 10,
      serverErrors: count('server_errors'),
      processes: usage,
    };

    if (scenario === 'flash-spike') {
      const attempt = trend('purchase_attempt')!;
      // Everyone starts at the opening instant: the last answer's time after it is how long the crowd took.
      const attemptSpanSeconds = Math.max(k6.metrics.attempt_done_after_opening?.values.max ?? 0, 1) / 1000;
      const purchaseSeconds = Math.max(k6.metrics.payment_done_after_opening?.values.max ?? 0, 1) / 1000;
      // Orders arrive through pub/sub; give them a moment, then check every invariant.
      let invariant: any;
      let orders = 0;
      const orderDb = await new DataSource({ type: 'mysql', ...dbSettings(), database: `${id}_order` }).initialize();
      for (let i = 0; i < 100; i++) {
        invariant = await succeeded(asAdmin.GET('/api/admin/flash-sales/{id}/invariant', { params: { path: { id: saleId! } } }));
        orders = Number((await orderDb.query('SELECT COUNT(*) AS n FROM order_items WHERE sale_id = ?', [saleId]))[0].n);
        if (invariant.consistent && orders === invariant.ledger.sold) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await orderDb.destroy();
      const held = invariant.ledger.held as number;
      Object.assign(summary, {
        buyers: BUYERS, units: UNITS, paymentFailureRate: Number(stackEnv.PAYMENT_FAILURE_RATE),
        attemptsPerSecond: Math.round((attempt.count ?? 0) / attemptSpanSeconds),
        purchasesPerSecond: Math.round(count('paid') / purchaseSeconds),
        purchaseAttempt: attempt, payment: trend('payment'), soldOutAnswer: trend('sold_out_answer'),
        outcomes: { held: count('held'), soldOut: count('sold_out'), paid: count('paid'), paymentFailed: count('payment_failed'), abandoned: count('abandoned') },
        answersByCode: diff(await metric(purchaseMetrics, 'purchase_attempts_total'), attemptsBefore),
        paymentsByCode: diff(await metric(purchaseMetrics, 'payments_total'), paymentsBefore),
        invariant: {
          ...invariant.ledger, quantity: invariant.quantity, orders,
          balances: invariant.ledgerBalances, consistent: invariant.consistent,
          oversold: Math.max(0, invariant.ledger.sold + held - invariant.quantity),
          lost: invariant.quantity - (invariant.ledger.available + held + invariant.ledger.sold),
          ordersEqualSold: orders === invariant.ledger.sold,
        },
      });
      log('baseline: the same reservations as a Lua decrement on Redis');
      const baseline = await luaBaseline(id, BUYERS, UNITS);
      summary.luaBaseline = { ...baseline, fullPathRatio: Math.round(((summary.attemptsPerSecond as number) / baseline.attemptsPerSecond) * 1000) / 1000 };
      const inv = summary.invariant as { balances: boolean; consistent: boolean; ordersEqualSold: boolean; lost: number; oversold: number };
      if (!inv.balances || !inv.consistent || !inv.ordersEqualSold || inv.lost !== 0 || inv.oversold !== 0 || (summary.serverErrors as number) > 0) exitCode = 1;
    } else {
      Object.assign(summary, {
        requestsPerSecond: Math.round((k6.metrics.http_reqs?.values.rate ?? 0) * 10) / 10,
        httpRequest: trend('http_req_duration'),
        ...(scenario === 'mixed' ? { checkout: trend('checkout') } : {}),
      });
      if (scenario === 'mixed') {
        // A Dapr-only route: asked as product-service's sidecar would, with its app token.
        const levels = (await apiCall(`http://127.0.0.1:${portBase + 2}`, `/internal/stock/${product.id}`, {
          headers: { 'dapr-api-token': stackSecrets().APP_API_TOKEN! },
        })).body;
        summary.invariant = { ...levels, quantity: 1_000_000, balances: levels.available + levels.reserved + levels.sold === 1_000_000 };
        if (!(summary.invariant as { balances: boolean }).balances) exitCode = 1;
      }
      if ((summary.serverErrors as number) > 0) exitCode = 1;
    }
    // Money: charged − refunded = value of the orders that still stand, for the shop and for the sale.
    summary.money = await moneyInvariant(asAdmin);
    if (saleId) summary.saleMoney = await moneyInvariant(asAdmin, { saleId });
    if (!(summary.money as Money).consistent || (saleId && !(summary.saleMoney as Money).consistent)) exitCode = 1;

    print(summary);
    const dir = env.BENCH_RESULTS_DIR ?? path.join(repoRoot, 'results');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `bench-${scenario}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(summary, null, 2));
    process.stdout.write(`\nresults: ${file}\n`);
  } finally {
    await stopStack();
  }
  process.exit(exitCode);
}

type Money = ApiSchema<'MoneyInvariant'>;

/** order-service's money invariant, once pending refunds are paid out (they settle in the background). */
async function moneyInvariant(asAdmin: ApiClient, query: { saleId?: string } = {}): Promise<Money> {
  let check: Money | undefined;
  for (let i = 0; i < 150; i++) {
    check = await succeeded(asAdmin.GET('/api/admin/payments/invariant', { params: { query } }));
    if (check.consistent) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return check!;
}

function dbSettings() {
  const db = mysqlServerFromEnv();
  return { host: db.host, port: db.port, username: db.user, password: db.password };
}

function print(summary: Record<string, any>): void {
  const out: string[] = [`\n${summary.scenario} — k6 ${summary.k6Seconds} s, thresholds ${summary.thresholdsPassed ? 'passed' : 'crossed'}`];
  const line = (label: string, t: { p50: number; p95: number; p99: number; count: number } | null) =>
    t && out.push(`  ${label.padEnd(22)} p50 ${t.p50} ms   p95 ${t.p95} ms   p99 ${t.p99} ms   (${t.count})`);
  if (summary.scenario === 'flash-spike') {
    out.push(`  buyers ${summary.buyers}, units ${summary.units}, payment failure rate ${summary.paymentFailureRate}`);
    out.push(`  attempts/s ${summary.attemptsPerSecond}   purchases/s ${summary.purchasesPerSecond}`);
    line('purchase attempt', summary.purchaseAttempt);
    line('payment', summary.payment);
    line('sold-out answer', summary.soldOutAnswer);
    out.push(`  outcomes ${JSON.stringify(summary.outcomes)}`);
    out.push(`  answers by code ${JSON.stringify(summary.answersByCode)}   payments ${JSON.stringify(summary.paymentsByCode)}`);
    const i = summary.invariant;
    out.push(`  invariant: sold ${i.sold} + held ${i.held} + available ${i.available} = ${i.sold + i.held + i.available} of ${i.quantity}; orders ${i.orders}; oversold ${i.oversold}, lost ${i.lost} → ${i.balances && i.consistent && i.ordersEqualSold ? 'OK' : 'BROKEN'}`);
    const b = summary.luaBaseline;
    out.push(`  Lua baseline (Redis only): ${b.attemptsPerSecond} attempts/s, p50 ${b.p50} / p95 ${b.p95} / p99 ${b.p99} ms; full path = ${b.fullPathRatio} of it`);
  } else {
    out.push(`  requests/s ${summary.requestsPerSecond}`);
    line('http request', summary.httpRequest);
    if (summary.checkout) line('checkout', summary.checkout);
    if (summary.invariant) out.push(`  stock: ${JSON.stringify(summary.invariant)}`);
  }
  const money = (label: string, m: Money | undefined) =>
    m && out.push(`  money (${label}): charged ${m.charged} − refunded ${m.refunded} = ${m.charged - m.refunded}; standing orders ${m.standing}; `
      + `refunds pending ${m.refundsPending.count} → ${m.consistent ? 'OK' : 'BROKEN'}`);
  money('shop', summary.money);
  money('sale', summary.saleMoney);
  out.push(`  5xx answers ${summary.serverErrors}`);
  out.push('  process                     cpu s   % of a core   peak MiB');
  for (const p of summary.processes as ProcessUsage[]) {
    out.push(`  ${p.name.padEnd(26)} ${String(p.cpuSeconds).padStart(6)}   ${String(p.cpuPercentOfOneCore).padStart(10)}   ${String(p.peakRssMiB).padStart(8)}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

