/**
 * The stack a bench runs against: a whole `npm start` of its own (real sidecars, own databases, keys, topics and
 * ports), what the scenarios need from it (admin, products, sales, buyers' tokens, invariants), and its removal.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DataSource } from 'typeorm';
import {
  apiClient, deleteRedisKeys, dropDatabase, mysqlServerFromEnv, privateStackEnv, repoRoot, stackPorts, startLocalStack, STACK_SERVICES, succeeded,
  type ApiClient, type ApiSchema,
} from '@flash/stack';
import { readConfig as userConfig } from '../../services/user-service/src/config';
import { SigningKeyEntity } from '../../services/user-service/src/data/account.entities';
import { personalDataVault, signingKeyring } from '../../services/user-service/src/service';
import { StackMeter } from './meter';
import { stackProcesses, type StackProcess } from './processes';
import { log, sleep } from './report';


export type SaleInvariant = ApiSchema<'FlashSaleInvariant'>;
export type Money = ApiSchema<'MoneyInvariant'>;

export class BenchStack {
  private constructor(
    readonly id: string,
    readonly runDir: string,
    readonly env: Awaited<ReturnType<typeof privateStackEnv>> & Record<string, string>,
    private readonly stop: () => Promise<void>,
    readonly orchestratorPid: number,
    private adminClient: ApiClient,
    /** Everything the stack printed so far (its supervisor's restarts among it). */
    readonly output: () => string,
  ) {}

  /** The stack's admin, logged in. */
  get admin(): ApiClient {
    return this.adminClient;
  }

  /** Logs the admin in again: a scenario that runs longer than an access token lives (15 minutes) needs a fresh one. */
  async relogin(): Promise<void> {
    this.adminClient = await adminClient(this.base);
  }

  get base(): string {
    return `http://127.0.0.1:${this.env.EDGE_PORT}`;
  }

  /** The MariaDB the stack runs on (the machine's, or one a drill started), as the settings name it: DB_HOST, DB_PORT, … */
  get database(): NodeJS.ProcessEnv {
    return { ...process.env, ...this.env };
  }

  get portBase(): number {
    return Number(this.env.STACK_PORT_BASE);
  }

  /** The ports of a service's replica (0 = the first) in this stack, laid out as `npm start` lays them. */
  ports(service: `${(typeof STACK_SERVICES)[number]}-service`, replica = 0): ReturnType<typeof stackPorts> {
    return stackPorts(this.portBase, STACK_SERVICES.indexOf(service.replace('-service', '') as (typeof STACK_SERVICES)[number]), replica);
  }

  /** `settings` override the stack's environment (a drill's replicas, payment provider, Redis). */
  static async start(settings: Record<string, string> = {}): Promise<BenchStack> {
    const id = `b${randomBytes(4).toString('hex')}`;
    const runDir = path.join(repoRoot, '.run', `bench-${id}`);
    const stackEnv = {
      ...(await privateStackEnv(id, runDir)),
      PAYMENT_FAILURE_RATE: process.env.PAYMENT_FAILURE_RATE ?? '0.2',
      PAYMENT_LATENCY_MS: process.env.PAYMENT_LATENCY_MS ?? '20',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      SEED_DEMO_DATA: 'false',
      // The services run compiled, as in production; BENCH_COMPILED=false measures them through tsx.
      STACK_COMPILED: process.env.BENCH_COMPILED === 'false' ? 'false' : 'true',
      PURCHASE_REPLICAS: process.env.PURCHASE_REPLICAS ?? '1',
      // The mixed scenario's five accounts stand in for a crowd of shoppers: their checkouts are not throttled per user.
      CHECKOUTS_PER_USER: process.env.CHECKOUTS_PER_USER ?? '10000',
      ...settings,
    };
    log(`starting a stack of its own (${id}, edge http://127.0.0.1:${stackEnv.EDGE_PORT})`);
    const stack = startLocalStack(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], stackEnv);
    const stop = async () => {
      if (stack.child.exitCode === null) {
        stack.child.kill('SIGTERM');
        await new Promise((resolve) => stack.child.once('exit', resolve));
      }
      for (const s of STACK_SERVICES) await dropDatabase(mysqlServerFromEnv({ ...process.env, ...stackEnv }), `${id}_${s}`);
      await deleteRedisKeys(`${id}*`);
      rmSync(runDir, { recursive: true, force: true });
    };
    try {
      await stack.ready;
      const base = `http://127.0.0.1:${stackEnv.EDGE_PORT}`;
      return new BenchStack(id, runDir, stackEnv as BenchStack['env'], stop, stack.child.pid!, await adminClient(base), stack.output);
    } catch (err) {
      await stop();
      throw err;
    }
  }

  private removing?: Promise<void>;

  /** Stops the stack and drops its databases and keys (once, however often it is asked). */
  remove(): Promise<void> {
    return (this.removing ??= this.stop());
  }

  /** The processes to measure, as they run now. */
  processes(): StackProcess[] {
    return stackProcesses(this.orchestratorPid, this.runDir);
  }

  /** A meter of the stack's processes and counters, its own database users included. */
  meter(): StackMeter {
    return new StackMeter(this.processes(), STACK_SERVICES.map((s) => `${this.id}_${s}`));
  }

  /** The secrets the stack generated (secrets.json of its run directory). */
  secrets(): Record<string, string> {
    return JSON.parse(readFileSync(path.join(this.runDir, 'secrets.json'), 'utf8')) as Record<string, string>;
  }

  file(name: string): string {
    return path.join(this.runDir, name);
  }

  async product(stock = 0): Promise<ApiSchema<'Product'>> {
    return succeeded(this.admin.POST('/api/admin/products', { body: { name: `Bench sneaker ${randomBytes(4).toString('hex')}`, price: 129_000, stock } }));
  }

  /** A flash sale of `quantity` units of `productId`, opening at `opensAt` (now: live at once), for an hour. */
  async sale(productId: string, quantity: number, options: { opensAt?: number; holdSeconds?: number } = {}): Promise<ApiSchema<'FlashSale'>> {
    const opensAt = options.opensAt ?? Date.now() - 1000;
    return succeeded(this.admin.POST('/api/admin/flash-sales', {
      body: {
        productId, quantity, startsAt: new Date(opensAt).toISOString(), endsAt: new Date(opensAt + 3_600_000).toISOString(),
        holdSeconds: options.holdSeconds ?? 300,
      },
    }));
  }

  /**
   * Access tokens of `count` distinct buyers, signed with the stack's real key (setup, not measured), written to a
   * JSON file for k6.
   */
  async buyerTokens(count: number, ttlSeconds = 3600): Promise<{ file: string; tokens: string[] }> {
    const config = userConfig({ ...this.database, ...this.secrets(), DB_NAME: `${this.id}_user` });
    const db = await new DataSource({
      type: 'mysql', host: config.DB_HOST, port: config.DB_PORT, username: config.DB_USER, password: config.DB_PASSWORD,
      database: config.DB_NAME, entities: [SigningKeyEntity], timezone: 'Z',
    }).initialize();
    const keyring = signingKeyring(config, db, personalDataVault(config));
    const tokens = await Promise.all(Array.from({ length: count }, () => keyring.sign({ userId: randomUUID(), role: 'customer', sessionId: randomUUID() }, ttlSeconds)));
    await db.destroy();
    const file = this.file(`tokens-${count}.json`);
    writeFileSync(file, JSON.stringify(tokens));
    return { file, tokens };
  }

  /** The sale's invariant, once `settled` says it is done (or after ~`timeoutMs`). */
  async saleInvariant(saleId: string, settled: (i: SaleInvariant) => boolean = (i) => i.consistent, timeoutMs = 20_000): Promise<SaleInvariant> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const invariant = await answered(() => succeeded(this.admin.GET('/api/admin/flash-sales/{id}/invariant', { params: { path: { id: saleId } } })), deadline);
      if (settled(invariant) || Date.now() > deadline) return invariant;
      await sleep(200);
    }
  }

  /** order-service's money invariant, once pending refunds are paid out (they settle in the background). */
  async moneyInvariant(query: { saleId?: string } = {}): Promise<Money> {
    let check: Money | undefined;
    for (let i = 0; i < 150; i++) {
      check = await answered(() => succeeded(this.admin.GET('/api/admin/payments/invariant', { params: { query } })), Date.now() + 20_000);
      if (check.consistent) break;
      await sleep(200);
    }
    return check!;
  }

  /** A purchase-service counter (`purchase_attempts_total`, …) by outcome, from its own metrics, every replica's added. */
  async purchaseMetric(name: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const line of await this.purchaseMetricLines()) {
      const m = new RegExp(`^${name}\\{outcome="([^"]+)"[^}]*\\} (\\d+)`).exec(line);
      if (m) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
    }
    return out;
  }

  /** One of purchase-service's metrics summed over its series and replicas (e.g. a histogram's `_count`). */
  async purchaseTotal(name: string): Promise<number> {
    const series = new RegExp(`^${name}(\\{[^}]*\\})? ([\\d.e+-]+)$`);
    return (await this.purchaseMetricLines()).reduce((sum, line) => sum + Number(series.exec(line)?.[2] ?? 0), 0);
  }

  private async purchaseMetricLines(): Promise<string[]> {
    const lines: string[] = [];
    for (let r = 0; r < Number(this.env.PURCHASE_REPLICAS ?? 1); r++) {
      lines.push(...(await (await fetch(`http://127.0.0.1:${this.ports('purchase-service', r).app}/metrics`)).text()).split('\n'));
    }
    return lines;
  }
}

async function adminClient(base: string): Promise<ApiClient> {
  const login = await succeeded(apiClient(base).POST('/api/auth/login', { body: { email: 'admin@flash-sale.local', password: 'Admin123!' } }));
  return apiClient(base, { token: login.accessToken });
}

/**
 * `call`, again when the connection fails (fetch's TypeError: a reset or a closed keep-alive socket under load), until
 * `deadline`; an answer, even an error status, is final.
 */
async function answered<T>(call: () => Promise<T>, deadline: number): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof TypeError) || Date.now() > deadline) throw err;
      log(`an admin call got no answer (${String((err as { cause?: unknown }).cause ?? err.message)}); trying again`);
      await sleep(500);
    }
  }
}

/** Runs `work` against a fresh stack and removes the stack afterwards, whatever happens (Ctrl-C included). */
export async function withStack<T>(work: (stack: BenchStack) => Promise<T>, settings: Record<string, string> = {}): Promise<T> {
  const stack = await BenchStack.start(settings);
  const interrupted = () => {
    log('interrupted: removing the stack');
    void stack.remove().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    return await work(stack);
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await stack.remove();
  }
}
