import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { startEdge, type Edge } from '@flash/edge';
import { createMetrics, listen, type DestinationStream, type RunningService } from '@flash/http';
import { createService, type RuntimeConfig, type Service, type ServiceParts } from '@flash/runtime';
import {
  createServiceDatabase, dropDatabase, freePort, freePorts, mysqlServerFromEnv, SidecarRun, signUpShopper, startMailCatcher,
  type MailCatcher, type NewShopper, type Sidecar,
} from '@flash/stack';
import { readConfig as userConfig } from '../../services/user-service/src/config';
import { userService } from '../../services/user-service/src/service';
import { readConfig as productConfig } from '../../services/product-service/src/config';
import { productService } from '../../services/product-service/src/service';
import { readConfig as purchaseConfig } from '../../services/purchase-service/src/config';
import { purchaseService } from '../../services/purchase-service/src/service';
import { readConfig as orderConfig } from '../../services/order-service/src/config';
import { orderService } from '../../services/order-service/src/service';
import type { Clock } from '../../services/order-service/src/domain/clock';

export const SERVICES = ['user-service', 'product-service', 'purchase-service', 'order-service'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** A service's parts and configuration, read from `env`. */
export function serviceParts(name: ServiceName, env: NodeJS.ProcessEnv, options: StackOptions = {}): { parts: ServiceParts; config: RuntimeConfig } {
  switch (name) {
    case 'user-service': {
      const config = userConfig(env);
      return { parts: userService(config), config };
    }
    case 'product-service': {
      const config = productConfig(env);
      return { parts: productService(config), config };
    }
    case 'purchase-service': {
      const config = purchaseConfig(env);
      return { parts: purchaseService(config), config };
    }
    case 'order-service': {
      const config = orderConfig(env);
      return { parts: orderService(config, options.orderClock), config };
    }
  }
}

export interface StackOptions {
  /** The clock order-service runs on (tests move it by days). */
  orderClock?: Clock;
  /** How many replicas of a service run (default 1): each with its own sidecar, same app id and database, the edge takes turns. */
  replicas?: Partial<Record<ServiceName, number>>;
  /** Where every service's log lines go instead of stdout (with the level from its LOG_LEVEL). */
  logs?: DestinationStream;
}

export interface StartedService {
  service: Service;
  running: RunningService;
  sidecar: Sidecar;
  url: string;
  env: NodeJS.ProcessEnv;
}

export interface TestStack {
  run: SidecarRun;
  admin: { email: string; password: string };
  /** The first replica of each service. */
  services: Partial<Record<ServiceName, StartedService>>;
  service(name: ServiceName): StartedService;
  /** Every replica of a service, the first one first. */
  replicas(name: ServiceName): StartedService[];
  mail: MailCatcher;
  edgeUrl: string;
  /** Signs a shopper up through the edge, verified with the emailed code, and logs them in. */
  signUp(shopper: NewShopper): Promise<{ accessToken: string; refreshToken: string }>;
  /**
   * Stops a service (its sidecar stays) and returns the function that starts it again on the same port and database,
   * as a crashed replica would come back.
   */
  halt(name: ServiceName): Promise<() => Promise<void>>;
  /** Runs one of a service's background jobs now and waits for it (after a test moved a clock). */
  runJob(name: ServiceName, job: string): Promise<void>;
  /**
   * One run of a service's job as another replica makes it: its own use cases over the same database and sidecar.
   * Resolves what the run said is due next.
   */
  runJobAsReplica(name: ServiceName, job: string): Promise<number | undefined>;
  stop(): Promise<void>;
}

/**
 * Starts services in-process, each with its own database and real daprd, plus a mail catcher and the edge, all
 * private to this run (databases, state keys and topics carry the run id). `env` adds settings per service.
 */
export async function startTestStack(
  names: readonly ServiceName[],
  env: Partial<Record<ServiceName, NodeJS.ProcessEnv>> = {},
  options: StackOptions = {},
): Promise<TestStack> {
  const run = new SidecarRun();
  const mysql = mysqlServerFromEnv();
  const admin = { email: `admin-${run.id}@example.test`, password: 'Admin123!' };
  const mail = await startMailCatcher();
  const services: TestStack['services'] = {};
  const extraReplicas = new Map<ServiceName, StartedService[]>();
  const databases: string[] = [];
  let edge: Edge | undefined;
  const stack: TestStack = {
    run,
    admin,
    services,
    mail,
    edgeUrl: '',
    signUp: (shopper) => signUpShopper(stack.edgeUrl, `http://127.0.0.1:${mail.webPort}`, shopper),
    service(name) {
      const started = services[name];
      if (!started) throw new Error(`${name} is not part of this test stack`);
      return started;
    },
    replicas: (name) => [stack.service(name), ...(extraReplicas.get(name) ?? [])],
    async halt(name) {
      const halted = stack.service(name);
      const stopped = halted.running.stop();
      // Cut the connections a graceful stop would wait for, as a crash would.
      halted.running.server.closeAllConnections();
      await stopped;
      return async () => {
        const { parts, config } = serviceParts(name, halted.env, options);
        const service = await createService(parts, config, { logDestination: options.logs });
        const running = await listen(service.built, halted.running.port, [service.close]);
        services[name] = { ...halted, service, running };
      };
    },
    runJob: (name, job) => stack.service(name).service.jobs.runNow(job),
    async runJobAsReplica(name, job) {
      const started = stack.service(name);
      const replica = serviceParts(name, started.env, options).parts.jobs?.({ ...started.service, metrics: createMetrics(name) }) ?? [];
      const found = replica.find((j) => j.name === job);
      if (!found) throw new Error(`${name} has no job named ${job}`);
      return found.run();
    },
    async stop() {
      await edge?.stop();
      for (const name of Object.keys(services) as ServiceName[]) for (const started of stack.replicas(name)) await started.running.stop();
      await run.stop();
      await mail.stop();
      for (const database of databases) await dropDatabase(mysql, database);
    },
  };
  try {
    for (const name of names) {
      const database = `${run.id}_${name.split('-')[0]}`;
      const login = await createServiceDatabase(mysql, database, randomBytes(18).toString('base64url'));
      databases.push(database);
      const serviceEnv = {
        ...process.env,
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
        PORT: '0',
        TOPIC_PREFIX: run.id,
        DAPR_API_TOKEN: run.apiToken,
        APP_API_TOKEN: run.appToken,
        DB_NAME: database,
        DB_USER: login.user,
        DB_PASSWORD: login.password,
        PII_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        BLIND_INDEX_KEY: randomBytes(32).toString('base64'),
        ADMIN_EMAIL: admin.email,
        ADMIN_PASSWORD: admin.password,
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(mail.smtpPort),
        ...env[name],
      };
      for (let replica = 0; replica < (options.replicas?.[name] ?? 1); replica++) {
        const started = await startReplica(run, name, { ...serviceEnv, REPLICA_NAME: `${name}-${replica + 1}` }, options);
        if (replica === 0) services[name] = started;
        else extraReplicas.set(name, [...(extraReplicas.get(name) ?? []), started]);
      }
    }
    const targets = Object.fromEntries(Object.keys(services).map((n) => [n, stack.replicas(n as ServiceName).map((s) => s.url)]));
    edge = await startEdge({ host: '127.0.0.1', port: await freePort(), targets, dir: path.join(run.dir, 'edge') });
    stack.edgeUrl = edge.url;
    return stack;
  } catch (err) {
    await stack.stop();
    throw err;
  }
}

/** One replica: its own app port and sidecar (the sidecar first, as in Kubernetes: the service waits for it at start-up). */
async function startReplica(run: SidecarRun, name: ServiceName, env: NodeJS.ProcessEnv, options: StackOptions): Promise<StartedService> {
  // The app's port and its sidecar's four, all different.
  const [appPort, http, grpc, internalGrpc, metrics] = (await freePorts(5)) as [number, number, number, number, number];
  const ports = { http, grpc, internalGrpc, metrics };
  const replicaEnv = { ...env, DAPR_HTTP_PORT: String(ports.http) };
  const { parts, config } = serviceParts(name, replicaEnv, options);
  const sidecar = await run.start(name, appPort, ports);
  const service = await createService(parts, config, { logDestination: options.logs });
  const running = await listen(service.built, appPort, [service.close]);
  return { service, running, sidecar, url: `http://127.0.0.1:${running.port}`, env: replicaEnv };
}
