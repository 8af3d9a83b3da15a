import path from 'node:path';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { accessControlFor, accessTable } from './access-control';
import { SENTRY_TRUST_DOMAIN } from './sentry';
import { daprConfigFile, daprResourcesDir, toolsBin } from './paths';
import { Dapr } from '@flash/dapr';
import { pubsubScopes } from '@flash/events';
import { failOnExit, freePorts, startProcess, type Managed } from './processes';

export interface SidecarPorts {
  http: number;
  grpc: number;
  internalGrpc: number;
  metrics: number;
}

export interface SidecarOptions {
  appId: string;
  /** Left out for a sidecar with no app (e.g. to exercise the state API alone). */
  appPort?: number;
  /** daprd's working directory: the SQLite name-resolution file lives here, shared by the sidecars of one run. */
  runDir: string;
  ports: SidecarPorts;
  redisHost: string;
  redisPassword?: string;
  /** The stack's state key prefix; the sidecar's own is this and its app id (stateKeyPrefix()). */
  stateKeyPrefix: string;
  /** The run's topic prefix: the pub/sub scopes name its topics. */
  topicPrefix: string;
  /** daprd requires it on every call to its API (DAPR_API_TOKEN). */
  apiToken: string;
  /** daprd sends it with every call to the app (APP_API_TOKEN), so the app can tell its sidecar from anyone else. */
  appToken: string;
  resourcesDir?: string;
  /** With a Sentry, the sidecar runs with mTLS and its identity comes from it; without, no mTLS. */
  sentry?: { address: string; trustAnchors: string };
  /** Whether an app of dapr/access-control.json gets its accessControl policy (default true). */
  accessControl?: boolean;
  logFile?: string;
  echo?: boolean;
  /** The process's name in output (default `<appId>-dapr`; replicas of one app need their own). */
  name?: string;
}

export interface Sidecar extends Managed {
  appId: string;
  ports: SidecarPorts;
  metrics(): Promise<string>;
}

/**
 * The key prefix of an app's state: the stack's prefix and the app id. Each app's sidecar reads and writes only
 * its own keys (stock counters of their owner, each service's revocation marks), and runs sharing a Redis stay apart.
 */
export const stateKeyPrefix = (base: string, appId: string) => `${base}-${appId}`;

/** The key prefix of the simulated payment provider's book (dapr/components/paymentbook.yaml), one per stack. */
export const paymentBookKeyPrefix = (base: string) => `${base}-payment-book`;

export async function freeSidecarPorts(): Promise<SidecarPorts> {
  const [http, grpc, internalGrpc, metrics] = (await freePorts(4)) as [number, number, number, number];
  return { http, grpc, internalGrpc, metrics };
}

/**
 * The sidecar's Configuration: dapr/config.yaml, plus, for an app of dapr/access-control.json, the accessControl
 * policy of the calls it may receive. Written into the run directory (JSON is YAML to daprd).
 */
function sidecarConfig(runDir: string, appId: string, accessControl: boolean): string {
  const table = accessTable();
  if (!accessControl || !table.apps.includes(appId)) return daprConfigFile;
  const config = parse(readFileSync(daprConfigFile, 'utf8')) as { spec: Record<string, unknown> };
  config.spec.accessControl = accessControlFor(appId, 'default', table);
  const file = path.join(runDir, `config-${appId}.json`);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

export function daprdPath(): string {
  const bin = path.join(toolsBin(), 'daprd');
  if (!existsSync(bin)) throw new Error(`daprd not found at ${bin}: run \`npm run bootstrap\` first`);
  return bin;
}

/** Starts a real daprd next to an app. Resolves once the sidecar's components are loaded (it answers the SDK). */
export async function startSidecar(options: SidecarOptions): Promise<Sidecar> {
  const { ports } = options;
  const args = [
    '--app-id', options.appId,
    ...(options.appPort ? ['--app-port', String(options.appPort), '--app-protocol', 'http'] : []),
    '--dapr-http-port', String(ports.http),
    '--dapr-grpc-port', String(ports.grpc),
    '--dapr-internal-grpc-port', String(ports.internalGrpc),
    '--metrics-port', String(ports.metrics),
    // Nothing of a local sidecar listens beyond this host: its API, the sidecar-to-sidecar port and its metrics.
    '--dapr-listen-addresses', '127.0.0.1',
    '--dapr-internal-grpc-listen-address', '127.0.0.1',
    '--metrics-listen-address', '127.0.0.1',
    '--resources-path', options.resourcesDir ?? daprResourcesDir,
    '--config', sidecarConfig(options.runDir, options.appId, options.accessControl ?? true),
    ...(options.sentry ? ['--enable-mtls', '--sentry-address', options.sentry.address, '--control-plane-trust-domain', SENTRY_TRUST_DOMAIN] : []),
    '--log-as-json',
    '--dapr-graceful-shutdown-seconds', '3',
  ];
  const scopes = pubsubScopes(options.topicPrefix);
  const managed = startProcess(options.name ?? `${options.appId}-dapr`, daprdPath(), args, {
    cwd: options.runDir,
    env: {
      REDIS_HOST: options.redisHost,
      REDIS_PASSWORD: options.redisPassword ?? '',
      REDIS_TLS: process.env.REDIS_TLS ?? 'false',
      STATE_KEY_PREFIX: stateKeyPrefix(options.stateKeyPrefix, options.appId),
      PAYMENT_BOOK_KEY_PREFIX: paymentBookKeyPrefix(options.stateKeyPrefix),
      // The address it registers for other sidecars to reach it (name resolution), where it now listens.
      DAPR_HOST_IP: '127.0.0.1',
      ...(options.sentry ? { DAPR_TRUST_ANCHORS: options.sentry.trustAnchors, NAMESPACE: 'default' } : {}),
      PUBSUB_PUBLISHING_SCOPES: scopes.publishing,
      PUBSUB_SUBSCRIPTION_SCOPES: scopes.subscription,
      DAPR_API_TOKEN: options.apiToken,
      APP_API_TOKEN: options.appToken,
    },
    logFile: options.logFile,
    echo: options.echo,
  });
  const sidecar: Sidecar = {
    ...managed,
    appId: options.appId,
    ports,
    metrics: async () => (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text(),
  };
  // The SDK's wait: daprd serves its API only once its components are loaded. If daprd exits first, the SDK keeps
  // polling until its own limit: that late failure is already reported, not an unhandled rejection.
  const answering = new Dapr({ httpPort: ports.http, apiToken: options.apiToken }).start();
  answering.catch(() => undefined);
  try {
    await Promise.race([answering, failOnExit(managed)]);
  } catch (err) {
    await managed.stop();
    throw new Error(`daprd for ${options.appId} did not become ready: ${(err as Error).message}\n${managed.output().slice(-4000)}`);
  }
  return sidecar;
}
