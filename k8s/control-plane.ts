import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  failOnExit, freePorts, httpOk, signalGroup, startProcess, startSentry, toolsBin, waitUntil, type Managed,
} from '@flash/stack';

/**
 * A Kubernetes control plane on 127.0.0.1 for tests and for trying the chart: etcd, kube-apiserver,
 * kube-controller-manager, Dapr Sentry and Dapr's sidecar injector registered as the mutating webhook for pods.
 * There is no kubelet and no scheduler: Deployments get ReplicaSets and Pods (with their injected daprd), and the Pods
 * stay Pending.
 */
export interface ControlPlane {
  dir: string;
  /** Admin credentials (group system:masters), for kubectl and helm. */
  kubeconfig: string;
  server: string;
  processes: Managed[];
  kubectl(args: string[], input?: string): Promise<string>;
  helm(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** What `npm run cluster -- up` leaves behind for `down`: the process groups it started. */
export interface ControlPlaneState {
  kubeconfig: string;
  server: string;
  pids: Record<string, number>;
}

export const DAPR_NAMESPACE = 'dapr-system';
const INJECTOR = 'dapr-sidecar-injector';
const TRUST_DOMAIN = 'cluster.local';
const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl', 'helm', 'sentry', 'injector'];
const run = promisify(execFile);

export function bin(name: string): string {
  return path.join(toolsBin(), name);
}

/** Dapr's CRDs at the daprd version the bootstrap pins (copied from the github.com/dapr/dapr module). */
export function daprCrdsDir(): string {
  const daprVersion = readFileSync(bin('sentry.version'), 'utf8').trim();
  return path.join(path.dirname(toolsBin()), `dapr-${daprVersion}`, 'crds');
}

export async function startControlPlane(dir: string, options: { detach?: boolean; log?: (line: string) => void } = {}): Promise<ControlPlane> {
  const missing = BINARIES.filter((b) => !existsSync(bin(b)));
  if (missing.length) throw new Error(`${missing.join(', ')} not found in ${toolsBin()}: run \`npm run bootstrap -- --cluster\` first`);
  const log = options.log ?? (() => undefined);
  for (const sub of ['pki', 'etcd', 'logs', 'sentry']) mkdirSync(path.join(dir, sub), { recursive: true });
  const pki = writePki(path.join(dir, 'pki'));
  const [etcdClient, etcdPeer, apiPort, cmPort, injectorPort, injectorHealthz, injectorMetrics] = (await freePorts(7)) as [
    number, number, number, number, number, number, number,
  ];
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfig = writeKubeconfig(dir, 'admin', server, pki);
  const processes: Managed[] = [];
  const start = (name: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    const managed = startProcess(name, bin(name), args, { cwd: dir, env, logFile: path.join(dir, 'logs', `${name}.log`), detach: options.detach });
    processes.push(managed);
    return managed;
  };
  const ready = async (managed: Managed, what: string, check: () => Promise<boolean>, timeoutMs = 60_000) => {
    const began = Date.now();
    await Promise.race([waitUntil(what, check, timeoutMs), failOnExit(managed)]);
    log(`${what}: ready in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  };
  const kubectl = async (args: string[], input?: string) => {
    const child = run(bin('kubectl'), ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 64 << 20 });
    if (input !== undefined) child.child.stdin!.end(input);
    return (await child).stdout;
  };
  const helm = async (args: string[]) => (await run(bin('helm'), ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 64 << 20 })).stdout;
  const stop = async () => {
    for (const managed of [...processes].reverse()) await managed.stop();
  };

  try {
    const etcd = start('etcd', [
      '--name', 'local', '--data-dir', path.join(dir, 'etcd'), '--log-level', 'warn',
      '--listen-client-urls', `http://127.0.0.1:${etcdClient}`, '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
      '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster', `local=http://127.0.0.1:${etcdPeer}`,
      // A throwaway store: fsync buys nothing and costs seconds on a loaded disk.
      '--unsafe-no-fsync',
    ]);
    await ready(etcd, 'etcd', () => httpOk(`http://127.0.0.1:${etcdClient}/health`));

    const apiserver = start('kube-apiserver', [
      '--etcd-servers', `http://127.0.0.1:${etcdClient}`,
      '--bind-address', '127.0.0.1', '--secure-port', String(apiPort),
      '--tls-cert-file', pki.apiserverCert, '--tls-private-key-file', pki.apiserverKey, '--client-ca-file', pki.caCert,
      '--service-account-issuer', `https://kubernetes.default.svc.${TRUST_DOMAIN}`,
      '--service-account-key-file', pki.saPublic, '--service-account-signing-key-file', pki.saKey,
      '--service-cluster-ip-range', '10.96.0.0/16', '--authorization-mode', 'RBAC',
      // No node can reach a loopback address: keep the `kubernetes` Service's endpoints out of it.
      '--endpoint-reconciler-type', 'none',
      '--cert-dir', path.join(dir, 'pki'), '--profiling=false',
    ]);
    await ready(apiserver, 'kube-apiserver', () => httpsOk(`${server}/readyz`, pki.caCert), 90_000);

    const cmKubeconfig = writeKubeconfig(dir, 'controller-manager', server, pki);
    const controllerManager = start('kube-controller-manager', [
      '--kubeconfig', cmKubeconfig, '--authentication-kubeconfig', cmKubeconfig, '--authorization-kubeconfig', cmKubeconfig,
      '--bind-address', '127.0.0.1', '--secure-port', String(cmPort), '--leader-elect=false',
      // Each controller acts as its own service account (kube-system:replicaset-controller creates the Pods): the
      // injector only mutates Pods that such controllers create.
      '--use-service-account-credentials', '--service-account-private-key-file', pki.saKey, '--root-ca-file', pki.caCert,
      '--cert-dir', path.join(dir, 'pki'), '--profiling=false',
    ]);
    await ready(controllerManager, 'kube-controller-manager (default ServiceAccount created)', async () => {
      await kubectl(['get', 'serviceaccount', 'default', '--namespace', 'default']);
      return true;
    }, 90_000);

    const sentry = await startSentry(path.join(dir, 'sentry'), {
      namespace: DAPR_NAMESPACE, detach: options.detach, logFile: path.join(dir, 'logs', 'sentry.log'),
    });
    processes.push(sentry);
    log(`sentry: ready at ${sentry.address}`);

    await kubectl(['apply', '-f', '-'], injectorObjects(injectorPort, sentry.trustAnchors));
    const injector = start('injector', [
      '--kubeconfig', kubeconfig, '--port', String(injectorPort), '--listen-address', '127.0.0.1',
      '--healthz-port', String(injectorHealthz), '--healthz-listen-address', '127.0.0.1',
      '--metrics-port', String(injectorMetrics), '--metrics-listen-address', '127.0.0.1', '--log-as-json',
    ], {
      NAMESPACE: DAPR_NAMESPACE,
      SIDECAR_IMAGE: `ghcr.io/dapr/daprd:${readFileSync(bin('injector.version'), 'utf8').trim()}`,
      DAPR_SENTRY_ADDRESS: sentry.address,
      DAPR_TRUST_ANCHORS_FILE: path.join(dir, 'sentry', 'ca.crt'),
      DAPR_CONTROL_PLANE_TRUST_DOMAIN: TRUST_DOMAIN,
      KUBE_CLUSTER_DOMAIN: TRUST_DOMAIN,
      // Its refusal to run as root is about containers; CI and newcomers' machines run this as root.
      DAPR_UNSAFE_SKIP_CONTAINER_UID_GID_CHECK: 'true',
    });
    // Its health includes the webhook configuration, patched with Sentry's trust anchors.
    await ready(injector, 'dapr sidecar injector', () => httpOk(`http://127.0.0.1:${injectorHealthz}/healthz`));
  } catch (err) {
    await stop();
    const logs = processes.map((p) => `--- ${p.name}\n${p.output().slice(-3000)}`).join('\n');
    throw new Error(`the control plane did not start: ${(err as Error).message}\n${logs}`);
  }
  return { dir, kubeconfig, server, processes, kubectl, helm, stop };
}

/** Stops the process groups a detached control plane left behind (`npm run cluster -- down`). */
export async function stopDetached(state: ControlPlaneState): Promise<void> {
  const pids = Object.values(state.pids).reverse();
  for (const pid of pids) signalGroup(pid, 'SIGTERM');
  await waitUntil('the control plane to stop', async () => pids.every((pid) => !alive(pid)), 15_000).catch(() => undefined);
  for (const pid of pids) signalGroup(pid, 'SIGKILL');
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The injector as the API server reaches it. An ExternalName Service makes the API server dial localhost with the TLS
 * server name dapr-sidecar-injector.dapr-system.svc, the name Sentry puts in the injector's certificate; the injector
 * replaces the caBundle with Sentry's trust anchors. Failing closed: a Pod is never created without its sidecar.
 */
function injectorObjects(port: number, trustAnchors: string): string {
  const objects = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: DAPR_NAMESPACE } },
    {
      apiVersion: 'v1', kind: 'Service', metadata: { name: INJECTOR, namespace: DAPR_NAMESPACE },
      spec: { type: 'ExternalName', externalName: 'localhost', ports: [{ name: 'https', port, protocol: 'TCP' }] },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: INJECTOR },
      webhooks: [{
        name: 'sidecar-injector.dapr.io',
        clientConfig: { service: { namespace: DAPR_NAMESPACE, name: INJECTOR, path: '/mutate', port }, caBundle: Buffer.from(trustAnchors).toString('base64') },
        rules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['CREATE'] }],
        failurePolicy: 'Fail', sideEffects: 'None', admissionReviewVersions: ['v1', 'v1beta1'], timeoutSeconds: 10,
      }],
    },
  ];
  return objects.map((o) => JSON.stringify(o)).join('\n');
}

interface Pki {
  caCert: string; caKey: string; apiserverCert: string; apiserverKey: string; saKey: string; saPublic: string;
  clients: Record<string, { cert: string; key: string }>;
}

/** A local CA (openssl), the API server's serving certificate, client certificates and the service-account key. */
function writePki(dir: string): Pki {
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  if (!existsSync(file('ca.crt'))) {
    openssl('req', '-x509', ...ecKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=flash-sale-local-ca');
  }
  const issue = (name: string, subject: string, extensions: string) => {
    if (existsSync(file(`${name}.crt`))) return;
    writeFileSync(file(`${name}.ext`), extensions);
    openssl('req', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30',
      '-out', `${name}.crt`, '-extfile', `${name}.ext`);
  };
  issue('apiserver', '/CN=kube-apiserver',
    'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' +
    `subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1\n`);
  const client = 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n';
  issue('admin', '/O=system:masters/CN=flash-sale-admin', client);
  issue('controller-manager', '/CN=system:kube-controller-manager', client);
  if (!existsSync(file('sa.key'))) {
    openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key');
    openssl('pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');
  }
  const clients = Object.fromEntries(['admin', 'controller-manager'].map((c) => [c, { cert: file(`${c}.crt`), key: file(`${c}.key`) }]));
  return {
    caCert: file('ca.crt'), caKey: file('ca.key'), apiserverCert: file('apiserver.crt'), apiserverKey: file('apiserver.key'),
    saKey: file('sa.key'), saPublic: file('sa.pub'), clients,
  };
}

function writeKubeconfig(dir: string, user: string, server: string, pki: Pki): string {
  const file = path.join(dir, `${user}.kubeconfig`);
  const config = {
    apiVersion: 'v1', kind: 'Config', 'current-context': 'flash-sale-local',
    clusters: [{ name: 'flash-sale-local', cluster: { server, 'certificate-authority': pki.caCert } }],
    users: [{ name: user, user: { 'client-certificate': pki.clients[user]!.cert, 'client-key': pki.clients[user]!.key } }],
    contexts: [{ name: 'flash-sale-local', context: { cluster: 'flash-sale-local', user } }],
  };
  writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  return file;
}

/** GET over TLS with our CA: true on a 2xx (anonymous requests may read /readyz). */
function httpsOk(url: string, caFile: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(url, { ca: readFileSync(caFile), timeout: 2000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 300);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}
