import { setFlagsFromString } from 'node:v8';
import type { Router } from 'express';
import type { Logger } from 'pino';
import { DataSource, type EntitySchema, type MixedList } from 'typeorm';
import {
  buildService, createLogger, createMetrics, exitOnSignals, listen, OpenAPIRegistry,
  type BuiltService, type DestinationStream, type Metrics, type RunningService, ConfigError,
} from '@flash/http';
import { Jobs, type Job } from './jobs';
import { Dapr, documentSubscriptions, subscriptionRouter, type Subscription } from '@flash/dapr';

/** The settings the runtime reads; every service config has them (see baseConfigShape). */
export interface RuntimeConfig {
  PORT: number;
  HOST: string;
  LOG_LEVEL: string;
  DAPR_HOST: string;
  DAPR_HTTP_PORT: number;
  DAPR_API_TOKEN: string;
  APP_API_TOKEN: string;
  TOPIC_PREFIX: string;
  DB_HOST: string;
  DB_PORT: number;
  DB_USER: string;
  DB_PASSWORD: string;
  DB_NAME: string;
  DB_POOL_SIZE: number;
  SHUTDOWN_GRACE_MS: number;
  JOBS_RECHECK_SECONDS: number;
  TRUSTED_PROXIES: string;
}

export interface ServiceContext {
  dataSource: DataSource;
  dapr: Dapr;
  logger: Logger;
  metrics: Metrics;
  docs: OpenAPIRegistry;
}

export interface ServiceParts {
  name: string;
  entities: MixedList<EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: MixedList<Function>;
  /** Builds the routers (and documents them in ctx.docs). */
  routes(ctx: ServiceContext): Router[];
  subscriptions?(ctx: ServiceContext): Subscription[];
  /** Runs once the database is migrated, before the service takes requests (e.g. seeding). */
  init?(ctx: ServiceContext): Promise<void>;
  /**
   * Background work, in-process: each job runs when its work is due and sleeps otherwise (see Job); a job without
   * its own `recheckMs` looks for work other replicas wrote every JOBS_RECHECK_SECONDS.
   */
  jobs?(ctx: ServiceContext): (Omit<Job, 'recheckMs'> & { recheckMs?: number })[];
}

export * from './group-commit';
export * from './jobs';
export * from './outbox';
export * from './schema';

/**
 * The service's use cases, built once per context and shared by its routes, subscriptions and jobs.
 * `build` runs on first use.
 */
export function oncePerContext<T>(build: (ctx: ServiceContext) => T): (ctx: ServiceContext) => T {
  const built = new WeakMap<ServiceContext, T>();
  return (ctx) => {
    if (!built.has(ctx)) built.set(ctx, build(ctx));
    return built.get(ctx)!;
  };
}


export const PUBSUB = 'pubsub';
export const STATESTORE = 'statestore';

export interface Service extends ServiceContext {
  built: BuiltService;
  jobs: Jobs;
  close(): Promise<void>;
}

/** Paths only a sidecar calls: service-to-service routes, event deliveries and the subscription list. */
export const DAPR_ONLY_PATHS = ['/internal', '/events', '/dapr'];

export interface CreateOptions {
  /** Where the service's log lines go instead of stdout (tests read them back). */
  logDestination?: DestinationStream;
}

/** Opens the service's database (running pending migrations) and builds its HTTP app. */
export async function createService(parts: ServiceParts, config: RuntimeConfig, options: CreateOptions = {}): Promise<Service> {
  const logger = createLogger(parts.name, config.LOG_LEVEL, options.logDestination);
  const metrics = createMetrics(parts.name);
  const dataSource = new DataSource({
    type: 'mysql',
    host: config.DB_HOST,
    port: config.DB_PORT,
    username: config.DB_USER,
    password: config.DB_PASSWORD,
    database: config.DB_NAME,
    entities: parts.entities,
    migrations: parts.migrations,
    migrationsTransactionMode: 'each',
    charset: 'utf8mb4',
    timezone: 'Z',
    poolSize: config.DB_POOL_SIZE,
    extra: {
      // mysql2 captures a stack trace at every query to give its errors the caller's frames: 2.2 % of purchase-service's
      // busy time in a flash-spike (README, Performance). Its errors keep their code and message and mysql2's own frames.
      trace: false,
      // Each connection's cache of prepared statements allocates four arrays of this length up front (16,000 by
      // default: 0.5 MiB per connection, 30 MiB of purchase-service's 60). TypeORM sends plain queries; none is prepared.
      maxPreparedStatements: 16,
    },
  });
  await dataSource.initialize();
  await migrate(dataSource);
  const dapr = new Dapr({ host: config.DAPR_HOST, httpPort: config.DAPR_HTTP_PORT, topicPrefix: config.TOPIC_PREFIX, apiToken: config.DAPR_API_TOKEN });
  // The SDK's way: wait (up to ~30 s) until the sidecar answers, so init and the first requests find it.
  await dapr.start();
  const docs = new OpenAPIRegistry();
  const ctx: ServiceContext = { dataSource, dapr, logger, metrics, docs };
  await parts.init?.(ctx);
  const recheckMs = config.JOBS_RECHECK_SECONDS * 1000;
  const jobs = new Jobs((parts.jobs?.(ctx) ?? []).map((job) => ({ recheckMs, ...job })), logger);
  const subscriptions = parts.subscriptions?.(ctx) ?? [];
  documentSubscriptions(docs, subscriptions);
  const routers = [...parts.routes(ctx), ...(subscriptions.length ? [subscriptionRouter(dapr, PUBSUB, subscriptions, logger)] : [])];
  const built = buildService({
    name: parts.name,
    logLevel: config.LOG_LEVEL,
    routers,
    docs,
    logger,
    metrics,
    daprOnly: { paths: DAPR_ONLY_PATHS, appToken: config.APP_API_TOKEN },
    trustedProxies: config.TRUSTED_PROXIES,
    readiness: {
      database: () => dataSource.query('SELECT 1'),
      sidecar: () => dapr.checkHealth(),
    },
  });
  return {
    ...ctx,
    built,
    jobs,
    close: async () => {
      await jobs.stop();
      await dataSource.destroy();
      await dapr.close();
    },
  };
}

/**
 * Runs pending migrations under a database-wide lock: replicas that start together (as a Deployment's pods do) take
 * turns, and the later ones find nothing left to do.
 */
async function migrate(dataSource: DataSource): Promise<void> {
  const lock = dataSource.createQueryRunner();
  const name = `migrations:${String(dataSource.options.database)}`;
  try {
    const [row] = (await lock.query('SELECT GET_LOCK(?, 120) AS got', [name])) as { got: number | null }[];
    if (row?.got !== 1) throw new Error(`could not take the migration lock ${name} within 120 s`);
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await lock.query('SELECT RELEASE_LOCK(?)', [name]).catch(() => undefined);
    await lock.release();
  }
}

export async function startService(parts: ServiceParts, config: RuntimeConfig): Promise<Service & { running: RunningService }> {
  const service = await createService(parts, config);
  const running = await listen(service.built, config.PORT, [service.close], config.SHUTDOWN_GRACE_MS, config.HOST);
  return { ...service, running };
}

/**
 * How far V8 lets the old generation grow past what survived its last full collection before it collects again.
 * Left to itself it allows up to 4× on a fast machine: under a crowd, purchase-service kept ~44 MB alive and grew to
 * ~180 MB of heap (RSS 232–283 MiB in flash-spike) between two full collections, each of which took ~9 ms of its
 * time. 1.5× bounds the heap at ~1.5 × what is alive, for a few more of those collections (measured: README,
 * Performance).
 */
const HEAP_GROWING_PERCENT = 50;

/** main.ts entry: a bad configuration prints its problems and exits 1; signals stop the service gracefully. */
export function runMain(name: string, start: () => Promise<Service & { running: RunningService }>): void {
  // V8 reads this each time it sets the next collection's limit, so it applies from here on (tests leave it alone).
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  // Every function gets V8's baseline (Sparkplug) code when it is first compiled, instead of running in the interpreter
  // until it has been called often enough: a crowd meets code no request ran before. purchase-service used ~20 % less
  // CPU through flash-spike runs (0.7 s less in a stack's first run), the same per held attempt at a steady 1,000/s
  // (README, Performance). Functions compiled from here on, i.e. all the ones requests run (NODE_OPTIONS refuses it).
  setFlagsFromString('--always-sparkplug');
  start().then(
    (service) => exitOnSignals(service.running, service.logger),
    (err: unknown) => {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n`);
      } else {
        createLogger(name, 'info').fatal({ err }, 'start-up failed');
      }
      process.exit(1);
    },
  );
}
