import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { repoRoot, toolsBin, waitUntil } from '@flash/stack';
import { chartDir } from '../k8s/chart-files';
import { bin, daprCrdsDir, startControlPlane, type ControlPlane } from '../k8s/control-plane';

// The chart installed with helm on a real API server (etcd, kube-apiserver, kube-controller-manager) with Dapr's
// sidecar injector as the mutating webhook. No kubelet: the Pods that the ReplicaSets create stay Pending, which is
// enough to see what the injector made of them.
const SERVICES = ['user-service', 'product-service', 'purchase-service', 'order-service'];
const production = path.join(chartDir, 'ci/production-values.yaml');

type Container = {
  name: string; image: string; args?: string[]; ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
};
type Pod = { metadata: { name: string; labels: Record<string, string> }; spec: { containers: Container[] }; status: { phase: string } };

let cluster: ControlPlane;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'flash-cluster-'));
  cluster = await startControlPlane(dir, { log: (line) => console.log(`[cluster] ${line}`) });
}, 300_000);

afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const json = async <T>(args: string[]): Promise<T> => JSON.parse(await cluster.kubectl([...args, '-o', 'json'])) as T;
const pods = async (namespace: string) => (await json<{ items: Pod[] }>(['get', 'pods', '-n', namespace])).items;
const failure = (promise: Promise<unknown>) => promise.then(() => '', (err: { stderr?: string; message: string }) => err.stderr || err.message);

/** The value of `--flag` in a container's args (the injector passes `--flag value`). */
function arg(container: Container, flag: string): string | undefined {
  const args = container.args ?? [];
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : args.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
}

/** Waits until every service has `replicas` Pods, then returns them. */
async function servicePods(namespace: string, replicas: number): Promise<Pod[]> {
  let found: Pod[] = [];
  await waitUntil(`${replicas} Pods of each service in ${namespace}`, async () => {
    found = await pods(namespace);
    return SERVICES.every((s) => found.filter((p) => p.metadata.labels['app.kubernetes.io/name'] === s).length === replicas);
  }, 120_000, 1000);
  return found;
}

/** What the chart promises each service's sidecar, read from the Pods the controllers created. */
function expectInjected(found: Pod[], tokens: { api: string; app: string }): void {
  for (const pod of found) {
    const service = pod.metadata.labels['app.kubernetes.io/name']!;
    expect({ pod: pod.metadata.name, phase: pod.status.phase, containers: pod.spec.containers.map((c) => c.name).sort() })
      .toEqual({ pod: pod.metadata.name, phase: 'Pending', containers: ['app', 'daprd'] });
    const daprd = pod.spec.containers.find((c) => c.name === 'daprd')!;
    expect({
      appId: arg(daprd, '--app-id'), appPort: arg(daprd, '--app-port'), config: arg(daprd, '--config'),
      metricsPort: arg(daprd, '--metrics-port'), mode: arg(daprd, '--mode'),
    }).toEqual({ appId: service, appPort: '3000', config: `flash-sale-${service}`, metricsPort: '9090', mode: 'kubernetes' });
    expect(daprd.ports).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'dapr-metrics', containerPort: 9090 })]));
    const secretOf = (name: string) => daprd.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
    expect({ api: secretOf('DAPR_API_TOKEN'), app: secretOf('APP_API_TOKEN') }).toEqual({
      api: { name: tokens.api, key: 'token' }, app: { name: tokens.app, key: 'token' },
    });
    expect(daprd.env?.find((e) => e.name === 'REDIS_HOST')?.value).toBeDefined();
    expect(daprd.resources).toEqual({ requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } });
    expect(daprd.image).toMatch(/^ghcr\.io\/dapr\/daprd:/);
  }
}

/** skaffold of our toolchain (it runs the toolchain's helm); `onCluster` points it at this control plane. */
const skaffold = (...args: string[]) => promisify(execFile)(bin('skaffold'), args, {
  cwd: repoRoot, maxBuffer: 64 << 20,
  env: { ...process.env, KUBECONFIG: cluster.kubeconfig, PATH: `${toolsBin()}:${process.env.PATH}`, SKAFFOLD_UPDATE_CHECK: 'false' },
});
const onCluster = (namespace: string) => ['--namespace', namespace, '--kube-context', 'flash-sale-local'];
/** The images a build would have pushed; no container engine runs here. */
const prebuiltImage = (service: string) => `registry.example.com/flash-sale-${service}:prebuilt`;
/** skaffold's build output (`--build-artifacts`) naming the prebuilt images. */
function prebuiltTags(): string {
  const tags = path.join(dir, 'tags.json');
  writeFileSync(tags, JSON.stringify({ builds: SERVICES.map((s) => ({ imageName: `flash-sale-${s}`, tag: prebuiltImage(s) })) }));
  return tags;
}
type K8sObject = { kind: string; metadata: { name: string }; spec?: { template?: { spec?: { containers: Container[] } } } };
const kindsAndNames = (objects: K8sObject[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
const yamlObjects = (text: string) => parseAllDocuments(text).map((d) => d.toJSON() as K8sObject | null).filter((o): o is K8sObject => o !== null);

/** Every object in the namespace but what Kubernetes itself keeps in each (its CA bundle, default account, events). */
async function leftIn(namespace: string): Promise<string[]> {
  const kinds = (await cluster.kubectl(['api-resources', '--verbs=list', '--namespaced', '-o', 'name']))
    .split('\n').filter((k) => k && !/^events(\.events\.k8s\.io)?$/.test(k));
  const names = (await cluster.kubectl(['get', kinds.join(','), '-n', namespace, '-o', 'name'])).split('\n').filter(Boolean);
  return names.filter((n) => !['configmap/kube-root-ca.crt', 'serviceaccount/default'].includes(n));
}

describe('the chart on a real API server with Dapr’s sidecar injector (no kubelet: Pods stay Pending)', () => {
  it('when Dapr’s CRDs are not installed, then helm install fails with the chart’s message and creates nothing', async () => {
    const stderr = await failure(cluster.helm(['install', 'flash-sale', chartDir, '-n', 'no-dapr', '--create-namespace']));
    expect(stderr).toContain('The Dapr CRDs (dapr.io/v1alpha1) are not installed in this cluster. Install Dapr first');
    expect(await leftIn('no-dapr')).toEqual([]);
  }, 120_000);

  it('when installed with default values after Dapr’s CRDs, then the manifest passes a strict server-side dry run and every Pod got its daprd', async () => {
    await cluster.kubectl(['apply', '--server-side', '-f', daprCrdsDir()]);
    await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
    await cluster.helm(['install', 'flash-sale', chartDir, '-n', 'shop', '--create-namespace']);
    const manifest = await cluster.helm(['get', 'manifest', 'flash-sale', '-n', 'shop']);
    await cluster.kubectl(['apply', '--dry-run=server', '--validate=strict', '-n', 'shop', '-f', '-'], manifest);
    // A field the API does not know fails the strict dry run (helm itself would silently drop it).
    const unknownField = manifest.replace(/^spec:\n {2}tracing:/m, 'spec:\n  tracingg: {}\n  tracing:');
    expect(await failure(cluster.kubectl(['apply', '--dry-run=server', '--validate=strict', '-n', 'shop', '-f', '-'], unknownField)))
      .toMatch(/unknown field "spec.tracingg"/);
    expectInjected(await servicePods('shop', 2), { api: 'flash-sale-dapr-api-token', app: 'flash-sale-dapr-app-token' });
  }, 240_000);

  it('when the packaged chart is installed with production values, then it installs from the archive and every Pod got its daprd', async () => {
    const archiveDir = path.join(dir, 'package');
    await cluster.helm(['package', chartDir, '-d', archiveDir]);
    const [archive] = readdirSync(archiveDir);
    await cluster.helm(['install', 'flash-sale', path.join(archiveDir, archive!), '-f', production, '-n', 'shop-prod', '--create-namespace']);
    const manifest = await cluster.helm(['get', 'manifest', 'flash-sale', '-n', 'shop-prod']);
    await cluster.kubectl(['apply', '--dry-run=server', '--validate=strict', '-n', 'shop-prod', '-f', '-'], manifest);
    expect((await json<{ items: unknown[] }>(['get', 'hpa', '-n', 'shop-prod'])).items).toHaveLength(4);
    // The HPA owns the replica count (none runs here to scale): each Deployment starts with one Pod.
    expectInjected(await servicePods('shop-prod', 1), { api: 'dapr-api-token', app: 'dapr-app-token' });
  }, 240_000);

  it('when skaffold renders skaffold.yaml offline with prebuilt image tags, then its output is the chart’s objects with those images, and it passes a strict server-side dry run', async () => {
    const rendered = path.join(dir, 'rendered.yaml');
    // Offline: no cluster is asked (a GitOps pipeline's render); the namespace goes to helm template.
    await skaffold('render', '--build-artifacts', prebuiltTags(), '--digest-source=tag', '--offline=true', '--namespace', 'shop-render', '--output', rendered);
    const objects = yamlObjects(readFileSync(rendered, 'utf8'));
    const chart = yamlObjects(await cluster.helm(['template', 'flash-sale', chartDir, '--api-versions', 'dapr.io/v1alpha1', '-n', 'shop-render']));
    expect(kindsAndNames(objects)).toEqual(kindsAndNames(chart));
    expect(objects.filter((o) => o.kind === 'Deployment').map((d) => [d.metadata.name, d.spec!.template!.spec!.containers[0]!.image]).sort())
      .toEqual(SERVICES.map((s) => [s, prebuiltImage(s)]).sort());

    await cluster.kubectl(['create', 'namespace', 'shop-render']);
    const accepted = JSON.parse(await cluster.kubectl(['apply', '--dry-run=server', '--validate=strict', '-n', 'shop-render', '-f', rendered, '-o', 'json'])) as { items: K8sObject[] };
    expect(kindsAndNames(accepted.items)).toEqual(kindsAndNames(objects));
    expect(await leftIn('shop-render')).toEqual([]);
  }, 240_000);

  it('when skaffold deploys skaffold.yaml with prebuilt image tags, then the release runs those images, and skaffold delete removes it', async () => {
    await cluster.kubectl(['create', 'namespace', 'shop-skaffold']);
    await skaffold('deploy', '--build-artifacts', prebuiltTags(), '--status-check=false', ...onCluster('shop-skaffold'));
    type Deployment = { metadata: { name: string }; spec: { template: { spec: { containers: Container[] } } } };
    const images = (await json<{ items: Deployment[] }>(['get', 'deployments', '-n', 'shop-skaffold'])).items
      .map((d) => [d.metadata.name, d.spec.template.spec.containers[0]!.image]).sort();
    expect(images).toEqual(SERVICES.map((s) => [s, prebuiltImage(s)]).sort());
    expectInjected(await servicePods('shop-skaffold', 2), { api: 'flash-sale-dapr-api-token', app: 'flash-sale-dapr-app-token' });
    await skaffold('delete', ...onCluster('shop-skaffold'));
    let left: string[] = [];
    await waitUntil('nothing of the skaffold release left', async () => (left = await leftIn('shop-skaffold')).length === 0, 120_000, 1000).catch(() => undefined);
    expect(left).toEqual([]);
  }, 240_000);

  it('when upgraded with other replicas and image tag, rolled back and uninstalled, then each step shows in the Deployments and nothing of the release is left', async () => {
    type Deployment = { metadata: { name: string }; spec: { replicas: number; template: { spec: { containers: Container[] } } } };
    const deployments = async () => (await json<{ items: Deployment[] }>(['get', 'deployments', '-n', 'shop'])).items
      .map((d) => ({ name: d.metadata.name, replicas: d.spec.replicas, image: d.spec.template.spec.containers[0]!.image }));
    const expected = (replicas: number, tag: string) => SERVICES.map((s) => ({ name: s, replicas, image: `flash-sale-${s}:${tag}` }))
      .sort((a, b) => a.name.localeCompare(b.name));

    await cluster.helm(['upgrade', 'flash-sale', chartDir, '-n', 'shop', '--reuse-values', '--set', 'replicaCount=3', '--set', 'image.tag=0.2.0']);
    expect(await deployments()).toEqual(expected(3, '0.2.0'));
    // The rollout starts: a ReplicaSet of the new image, whose Pods are injected too (they never become ready here).
    await waitUntil('Pods of the new image', async () => (await pods('shop')).some((p) => p.spec.containers.some((c) => c.image.endsWith(':0.2.0'))), 60_000, 1000);
    const upgraded = (await pods('shop')).filter((p) => p.spec.containers.some((c) => c.image.endsWith(':0.2.0')));
    expectInjected(upgraded, { api: 'flash-sale-dapr-api-token', app: 'flash-sale-dapr-app-token' });

    await cluster.helm(['rollback', 'flash-sale', '1', '-n', 'shop']);
    expect(await deployments()).toEqual(expected(2, '0.1.0'));
    const history = JSON.parse(await cluster.helm(['history', 'flash-sale', '-n', 'shop', '-o', 'json'])) as { revision: number; status: string }[];
    expect(history.map((h) => [h.revision, h.status])).toEqual([[1, 'superseded'], [2, 'superseded'], [3, 'deployed']]);

    await cluster.helm(['uninstall', 'flash-sale', '-n', 'shop']);
    await cluster.helm(['uninstall', 'flash-sale', '-n', 'shop-prod']);
    // The garbage collector removes the ReplicaSets and Pods the Deployments owned.
    let left: string[] = [];
    await waitUntil('nothing of the releases left', async () => {
      left = [...(await leftIn('shop')), ...(await leftIn('shop-prod'))];
      return left.length === 0;
    }, 120_000, 1000).catch(() => undefined);
    expect(left).toEqual([]);
    expect((await cluster.helm(['list', '--all-namespaces', '-q'])).trim()).toBe('');
  }, 300_000);
});
