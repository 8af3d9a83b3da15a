/**
 * Brings the whole stack up on this machine: every service with its own real daprd, MariaDB databases,
 * the machine's Redis, a mail catcher and the edge on one port. Ctrl-C or SIGTERM stops all of it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startEdge } from '@flash/edge';
import { DEMO_ADMIN_PASSWORD } from '@flash/http';
import {
  apiClient, buildServices, compiledMain, startPrometheus, createServiceDatabase, failOnExit, httpOk, mysqlServerFromEnv, redisUrl, repoRoot, signalGroup, startMailCatcher, startProcess, heldMark, startSentry, startSidecar, stackPorts, succeeded, supervise, waitUntil,
  type Managed, type Supervised,
} from '@flash/stack';

const started = Date.now();
const runDir = process.env.STACK_RUN_DIR ?? path.join(repoRoot, '.run');
const env = process.env;

const logDir = path.join(runDir, 'logs');
const pidFile = path.join(runDir, 'pids.json');

const base = Number(env.STACK_PORT_BASE ?? 3000);
const edgePort = Number(env.EDGE_PORT ?? 8080);
// The edge is the one door, on this host only unless asked (EDGE_HOST=0.0.0.0 to reach it from the LAN).
const edgeHost = env.EDGE_HOST ?? '127.0.0.1';
const mailWebPort = Number(env.MAIL_WEB_PORT ?? 1080);
const mailSmtpPort = Number(env.MAIL_SMTP_PORT ?? 1025);
const db = mysqlServerFromEnv(env);

/** STACK_COMPILED=true runs the services as production does: compiled JavaScript (npm run build), not tsx. */
const compiled = env.STACK_COMPILED === 'true';
/** `npm start -- --observe` also starts a local Prometheus (PROMETHEUS_PORT, default base+900) on every service and sidecar. */
const observe = process.argv.includes('--observe');
/** PURCHASE_REPLICAS=2 runs a second purchase-service (own daprd, same app id and database); the edge takes turns. */
const replicas: Record<string, number> = { 'purchase-service': Number(env.PURCHASE_REPLICAS ?? 1) };
const services = [
  { name: 'user-service', database: 'flash_users' },
  { name: 'product-service', database: 'flash_products' },
  { name: 'purchase-service', database: 'flash_purchases' },
  { name: 'order-service', database: 'flash_orders' },
].flatMap((s, i) => Array.from({ length: replicas[s.name] ?? 1 }, (_, r) => {
  // Replica r's ports are 10·r above the first replica's.
  const { app, dapr } = stackPorts(base, i, r);
  return {
    ...s,
    label: r ? `${s.name}-${r + 1}` : s.name,
    database: env[`${s.name.split('-')[0]!.toUpperCase()}_DB_NAME`] ?? s.database,
    appPort: app,
    dapr,
  };
}));

const log = (msg: string) => process.stdout.write(`[start] ${msg}\n`);
const supervision = (name: string) => ({ log, started: recordPids, held: () => existsSync(heldMark(runDir, name)) });
/** What runs: services and sidecars under the supervisor (restarted when they die, as Kubernetes would), the rest as they are. */
const processes: (Managed | Supervised)[] = [];
const current = (p: Managed | Supervised): Managed => ('current' in p ? p.current() : p);

/** A crashed earlier run may have left its processes behind: stop them before taking their ports. */
function stopLeftovers(): void {
  if (!existsSync(pidFile)) return;
  const pids = JSON.parse(readFileSync(pidFile, 'utf8')) as number[];
  const alive = pids.filter((pid) => signalGroup(pid, 'SIGKILL'));
  if (alive.length) log(`stopped ${alive.length} processes left by an earlier run`);
  rmSync(pidFile);
}

function recordPids(): void {
  writeFileSync(pidFile, JSON.stringify(processes.map((p) => current(p).child.pid).filter(Boolean)));
}

/** Keys for personal data, made once per checkout and kept out of the repo (.run is ignored). */
type SharedSecret = 'DAPR_API_TOKEN' | 'APP_API_TOKEN';
type UserServiceSecret = 'PII_ENCRYPTION_KEY' | 'BLIND_INDEX_KEY';

/**
 * The local secrets, generated on the first start into .run/secrets.json: the Dapr tokens every service shares, the
 * keys only user-service holds, one database password per service. Keys already there stay (they sealed data in the
 * databases); missing ones are added.
 */
function localSecrets(): Record<SharedSecret | UserServiceSecret, string> & Record<string, string> {
  const file = path.join(runDir, 'secrets.json');
  const kept = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {};
  const secrets = {
    PII_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    BLIND_INDEX_KEY: randomBytes(32).toString('base64'),
    DAPR_API_TOKEN: randomBytes(24).toString('base64url'),
    APP_API_TOKEN: randomBytes(24).toString('base64url'),
    ...Object.fromEntries(services.map((s) => [`DB_PASSWORD_${s.database}`, randomBytes(18).toString('base64url')])),
    ...kept,
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

async function stopAll(signal: string): Promise<void> {
  log(`${signal}: stopping...`);
  // The door first (the edge), then the apps, then their sidecars.
  await Promise.all(processes.filter((p) => p.name === 'edge').map((p) => p.stop()));
  await Promise.all(processes.filter((p) => !p.name.endsWith('-dapr')).map((p) => p.stop()));
  await Promise.all(processes.map((p) => p.stop()));
  rmSync(pidFile, { force: true });
  log('stopped');
}

async function main(): Promise<void> {
  mkdirSync(logDir, { recursive: true });
  stopLeftovers();
  for (const stale of ['name-resolution.db', 'name-resolution.db-wal', 'name-resolution.db-shm']) {
    rmSync(path.join(runDir, stale), { force: true });
  }
  const secrets = localSecrets();
  if (compiled) await buildServices((line) => log(`compiled ${line}`));

  log(`databases on ${db.host}:${db.port}, one user each`);
  const logins = new Map<string, { user: string; password: string }>();
  for (const s of services) logins.set(s.name, await createServiceDatabase(db, s.database, secrets[`DB_PASSWORD_${s.database}`]!));

  const mail = await startMailCatcher({ smtpPort: mailSmtpPort, webPort: mailWebPort, logFile: path.join(logDir, 'maildev.log') });
  processes.push(mail.process);

  // Dapr's certificate authority: every sidecar runs with mTLS, so the access-control policies apply as in Kubernetes.
  const sentryDir = path.join(runDir, 'sentry');
  mkdirSync(sentryDir, { recursive: true });
  const sentry = await startSentry(sentryDir, { logFile: path.join(logDir, 'sentry.log') });
  processes.push(sentry);
  recordPids();

  for (const s of services) {
    // SERVICE_CPU_PROF_DIR=<dir>: every service writes a V8 CPU profile there when it stops (open it in Chrome DevTools).
    const profile = env.SERVICE_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${env.SERVICE_CPU_PROF_DIR}`, `--cpu-prof-name=${s.label}.cpuprofile`] : [];
    // Compiled as in the image, and like it without --enable-source-maps (see Dockerfile: ~40 MiB of RSS per service).
    const entry = compiled ? [compiledMain(s.name)] : ['--import', 'tsx', path.join(repoRoot, 'services', s.name, 'src/main.ts')];
    const app = await supervise(async () => startProcess(s.label, process.execPath, [...profile, ...entry], {
      cwd: repoRoot,
      logFile: path.join(logDir, `${s.label}.log`),
      env: {
        PORT: String(s.appPort),
        // Stable across restarts, as a pod's name is: a restarted replica finishes what its earlier life left.
        REPLICA_NAME: s.label,
        DAPR_HTTP_PORT: String(s.dapr.http),
        DB_NAME: s.database,
        DB_HOST: db.host,
        DB_PORT: String(db.port),
        DB_USER: logins.get(s.name)!.user,
        DB_PASSWORD: logins.get(s.name)!.password,
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(mailSmtpPort),
        ADMIN_EMAIL: env.ADMIN_EMAIL ?? 'admin@flash-sale.local',
        ADMIN_PASSWORD: env.ADMIN_PASSWORD ?? DEMO_ADMIN_PASSWORD,
        DAPR_API_TOKEN: secrets.DAPR_API_TOKEN,
        APP_API_TOKEN: secrets.APP_API_TOKEN,
        ...(s.name === 'user-service' ? { PII_ENCRYPTION_KEY: secrets.PII_ENCRYPTION_KEY, BLIND_INDEX_KEY: secrets.BLIND_INDEX_KEY } : {}),
      },
    }), supervision(s.label));
    processes.push(app);
    recordPids();
    const sidecar = await supervise(() => startSidecar({
      appId: s.name,
      name: `${s.label}-dapr`,
      appPort: s.appPort,
      runDir,
      ports: s.dapr,
      redisHost: redisUrl(env),
      redisPassword: env.REDIS_PASSWORD,
      stateKeyPrefix: env.STATE_KEY_PREFIX ?? 'flash',
      topicPrefix: env.TOPIC_PREFIX ?? '',
      sentry,
      apiToken: secrets.DAPR_API_TOKEN,
      appToken: secrets.APP_API_TOKEN,
      logFile: path.join(logDir, `${s.label}-dapr.log`),
    }), supervision(`${s.label}-dapr`));
    processes.push(sidecar);
    recordPids();
  }

  for (const s of services) {
    const app = current(processes.find((p) => p.name === s.label)!);
    await Promise.race([waitUntil(`${s.label} /readyz`, () => httpOk(`http://127.0.0.1:${s.appPort}/readyz`), 90_000), failOnExit(app)]);
  }

  const targets: Record<string, string[]> = {};
  for (const s of services) (targets[s.name] ??= []).push(`http://127.0.0.1:${s.appPort}`);
  // HAProxy, standing in for the ingress: restarted like the rest if it dies.
  processes.push(await supervise(() => startEdge({ host: edgeHost, port: edgePort, targets, dir: path.join(runDir, 'edge') }, {
    logFile: path.join(logDir, 'edge.log'),
  }), supervision('edge')));
  recordPids();

  if (observe) {
    const prometheus = await startPrometheus(path.join(runDir, 'prometheus'), Number(env.PROMETHEUS_PORT ?? base + 900), {
      services: services.map((s) => s.appPort), sidecars: services.map((s) => s.dapr.metrics),
    }, { logFile: path.join(logDir, 'prometheus.log') });
    processes.push(prometheus);
    recordPids();
    log(`  Prometheus      ${prometheus.url} (every service and sidecar, each second; the chart's alert rules)`);
  }
  if (env.SEED_DEMO_DATA !== 'false') log(`demo data: ${await seedDemoData(`http://127.0.0.1:${edgePort}`)}`);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  log(`ready in ${seconds}s`);
  log(`  API (edge)      http://localhost:${edgePort}/api/...`);
  log(`  API docs        http://localhost:${edgePort}/api/docs`);
  log(`  caught mail     http://localhost:${mailWebPort}  (JSON: http://localhost:${mailWebPort}/email)`);
  for (const s of services) {
    log(`  ${s.label.padEnd(18)} app :${s.appPort}  dapr http :${s.dapr.http}  dapr metrics :${s.dapr.metrics}`);
  }
  log(`  logs            ${path.relative(process.cwd(), logDir)}/`);
  log('Ctrl-C stops everything.');
}

/** A fresh shop gets a few products and a live flash sale, made through the API as the demo admin. */
async function seedDemoData(api: string): Promise<string> {
  if ((await succeeded(apiClient(api).GET('/api/products', { params: { query: { size: 1 } } }))).total > 0) return 'kept what is there';
  const admin = { email: env.ADMIN_EMAIL ?? 'admin@flash-sale.local', password: env.ADMIN_PASSWORD ?? 'Admin123!' };
  const { accessToken } = await succeeded(apiClient(api).POST('/api/auth/login', { body: admin }));
  const asAdmin = apiClient(api, { token: accessToken });
  const product = (body: { name: string; description: string; price: number; stock: number }) =>
    succeeded(asAdmin.POST('/api/admin/products', { body }));
  const runner = await product({ name: 'Aurora runner (limited)', description: 'The drop everyone waits for', price: 189_000, stock: 50 });
  await product({ name: 'Comet cap', description: 'Everyday cap', price: 35_000, stock: 200 });
  await product({ name: 'Nebula hoodie', description: 'Heavyweight hoodie', price: 89_000, stock: 100 });
  const now = Date.now();
  await succeeded(asAdmin.POST('/api/admin/flash-sales', {
    body: { productId: runner.id, quantity: 20, startsAt: new Date(now).toISOString(), endsAt: new Date(now + 24 * 3_600_000).toISOString() },
  }));
  return '3 products and a flash sale of 20 Aurora runners, live for 24 h';
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    stopAll(signal).then(() => process.exit(0), () => process.exit(1));
  });
}

// npm exits on SIGTERM without passing it on: when the parent goes away, stop as if signalled.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.emit('SIGTERM');
}, 500).unref();

main().catch(async (err: Error) => {
  process.stderr.write(`[start] failed: ${err.message}\n`);
  if (!stopping) {
    stopping = true;
    await stopAll('start-up failure');
  }
  process.exit(1);
});
