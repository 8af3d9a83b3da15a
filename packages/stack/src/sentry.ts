import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { toolsBin } from './paths';
import { failOnExit, freePorts, httpOk, portOpen, startProcess, waitUntil, type Managed } from './processes';

/** Dapr's certificate authority for a local stack: sidecars get their mTLS identity (SPIFFE id) from it. */
export interface Sentry extends Managed {
  /** host:port of its gRPC API, for daprd's --sentry-address. */
  address: string;
  /** The root certificate (PEM) sidecars trust (DAPR_TRUST_ANCHORS). */
  trustAnchors: string;
}

/** The trust domain of the local CA (the control plane's, as opposed to the apps' `public`). */
export const SENTRY_TRUST_DOMAIN = 'cluster.local';

/**
 * Starts Dapr Sentry with its credentials in `dir`: a self-signed root and issuer are generated on the first start
 * and kept there. Listens on 127.0.0.1 only. `namespace` is the control plane's (Sentry's own identity is
 * spiffe://cluster.local/ns/<namespace>/dapr-sentry; `default` unless set); `detach` as in startProcess.
 */
export async function startSentry(dir: string, options: { logFile?: string; namespace?: string; detach?: boolean } = {}): Promise<Sentry> {
  const bin = path.join(toolsBin(), 'sentry');
  if (!existsSync(bin)) throw new Error(`sentry not found at ${bin}: run \`npm run bootstrap\` first`);
  const [port, healthz, metrics] = (await freePorts(3)) as [number, number, number];
  const config = path.join(dir, 'sentry-config.yaml');
  writeFileSync(config, 'apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: daprsystem\nspec:\n  mtls:\n    enabled: true\n    workloadCertTTL: 24h\n    allowedClockSkew: 15m\n');
  const managed = startProcess('sentry', bin, [
    '--issuer-credentials', dir, '--trust-domain', SENTRY_TRUST_DOMAIN, '--config', config,
    '--port', String(port), '--listen-address', '127.0.0.1',
    '--healthz-port', String(healthz), '--healthz-listen-address', '127.0.0.1',
    '--metrics-port', String(metrics), '--metrics-listen-address', '127.0.0.1', '--log-as-json',
  ], { cwd: dir, logFile: options.logFile, detach: options.detach, env: options.namespace ? { NAMESPACE: options.namespace } : {} });
  try {
    // A sidecar that dials it before its gRPC API listens is refused and exits (seen once while a build loaded the
    // machine, healthz already answering): wait for both.
    const ready = async () => (await httpOk(`http://127.0.0.1:${healthz}/healthz`)) && portOpen(port);
    await Promise.race([waitUntil('sentry', ready), failOnExit(managed)]);
  } catch (err) {
    await managed.stop();
    throw new Error(`sentry did not become ready: ${(err as Error).message}\n${managed.output().slice(-4000)}`);
  }
  return { ...managed, address: `127.0.0.1:${port}`, trustAnchors: readFileSync(path.join(dir, 'ca.crt'), 'utf8') };
}
