import { execFile } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Ajv from 'ajv';
import { parseAllDocuments, parse } from 'yaml';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as core from 'kubernetes-models/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as policy from 'kubernetes-models/policy/v1';
import { Dapr } from '@flash/dapr';
import { routes } from '@flash/edge';
import { pubsubScopes } from '@flash/events';
import { accessControlFor, freeSidecarPorts, redisUrl, repoRoot, startSidecar, testRunId, toolsBin } from '@flash/stack';
import { staleChartFiles } from '../k8s/chart-files';

const run = promisify(execFile);
const chart = path.join(repoRoot, 'charts/flash-sale');
const helm = (...args: string[]) => run(path.join(toolsBin(), 'helm'), args, { cwd: repoRoot });
const CLUSTER = ['--kube-version', '1.30.0', '--api-versions', 'dapr.io/v1alpha1'];

type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };

async function render(...extra: string[]): Promise<Manifest[]> {
  const { stdout } = await helm('template', 'flash-sale', chart, ...CLUSTER, ...extra);
  return parseAllDocuments(stdout).map((d) => d.toJSON() as Manifest).filter(Boolean);
}

/** Kubernetes objects by apiVersion/kind, validated by the kubernetes-models classes. */
const kubernetes: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': apps.Deployment,
  'v1/Service': core.Service,
  'v1/ConfigMap': core.ConfigMap,
  'v1/Secret': core.Secret,
  'policy/v1/PodDisruptionBudget': policy.PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': autoscaling.HorizontalPodAutoscaler,
  'networking.k8s.io/v1/Ingress': networking.Ingress,
  'networking.k8s.io/v1/NetworkPolicy': networking.NetworkPolicy,
};

/** Dapr objects, validated against the openAPIV3Schema of Dapr 1.18's CRDs (test/schemas/dapr). */
function daprValidators(): Record<string, (doc: unknown) => string[]> {
  // OpenAPI's integer formats carry no extra rule for JSON values.
  const ajv = new Ajv({ strict: false, allErrors: true, formats: { int32: true, int64: true } });
  const validators: Record<string, (doc: unknown) => string[]> = {};
  for (const file of readdirSync(path.join(repoRoot, 'test/schemas/dapr'))) {
    const crd = parse(readFileSync(path.join(repoRoot, 'test/schemas/dapr', file), 'utf8'));
    for (const version of crd.spec.versions) {
      const validate = ajv.compile(version.schema.openAPIV3Schema);
      validators[`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`] = (doc) =>
        validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
    }
  }
  return validators;
}

function validateAll(manifests: Manifest[]): string[] {
  const dapr = daprValidators();
  const problems: string[] = [];
  for (const m of manifests) {
    const key = `${m.apiVersion}/${m.kind}`;
    if (kubernetes[key]) {
      try {
        new kubernetes[key](m as never).validate();
      } catch (err) {
        problems.push(`${key} ${m.metadata.name}: ${(err as Error).message}`);
      }
    } else if (dapr[key]) {
      problems.push(...dapr[key](m).map((p) => `${key} ${m.metadata.name}: ${p}`));
    } else {
      problems.push(`${key} ${m.metadata.name}: no schema to validate it against`);
    }
  }
  return problems;
}

describe('the Helm chart, skaffold and the Dapr resources, validated without a cluster', () => {
  it('when linted strictly, with default and production-like values, then there is no error', async () => {
    for (const values of [[], ['-f', path.join(chart, 'ci/production-values.yaml')]]) {
      const { stdout } = await helm('lint', '--strict', chart, '--kube-version', '1.30.0', '--set', 'dapr.requireCrds=false', ...values);
      expect(stdout).toContain('0 chart(s) failed');
    }
  });

  it('when rendered with default and production-like values, then every object passes its schema', async () => {
    const defaults = await render();
    const production = await render('-f', path.join(chart, 'ci/production-values.yaml'));
    const kinds = (ms: Manifest[]) => [...new Set(ms.map((m) => m.kind))].sort();
    expect(kinds(defaults)).toEqual(['Component', 'ConfigMap', 'Configuration', 'Deployment', 'Ingress', 'NetworkPolicy', 'PodDisruptionBudget', 'Resiliency', 'Secret', 'Service']);
    expect(kinds(production)).toContain('HorizontalPodAutoscaler');
    expect(validateAll(defaults)).toEqual([]);
    expect(validateAll(production)).toEqual([]);
  });

  it('when a Deployment is rendered, then it carries the sidecar annotations, probes, limits and a locked-down security context, and refers to Secrets', async () => {
    const production = await render('-f', path.join(chart, 'ci/production-values.yaml'));
    const deployment = production.find((m) => m.kind === 'Deployment' && m.metadata.name === 'user-service') as any;
    expect(deployment.spec.template.metadata.annotations).toMatchObject({
      'dapr.io/enabled': 'true', 'dapr.io/app-id': 'user-service', 'dapr.io/app-port': '3000', 'dapr.io/config': 'flash-sale-user-service',
      'dapr.io/metrics-port': '9090', 'dapr.io/api-token-secret': 'dapr-api-token', 'dapr.io/app-token-secret': 'dapr-app-token',
      'dapr.io/env-from-secret': 'REDIS_PASSWORD=flash-sale-redis:password',
      'dapr.io/env': 'REDIS_HOST=redis.data.svc.cluster.local:6379,REDIS_TLS=true,STATE_KEY_PREFIX=flash-user-service',
    });
    const orders = production.find((m) => m.kind === 'Deployment' && m.metadata.name === 'order-service') as any;
    expect(orders.spec.template.metadata.annotations['dapr.io/env']).toBe(
      'REDIS_HOST=redis.data.svc.cluster.local:6379,REDIS_TLS=true,STATE_KEY_PREFIX=flash-order-service,PAYMENT_BOOK_KEY_PREFIX=flash-payment-book',
    );
    const container = deployment.spec.template.spec.containers[0];
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.resources.limits).toBeDefined();
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    expect(container.env.find((e: { name: string }) => e.name === 'DB_USER').value).toBe('flash_users');
    expect(container.env.find((e: { name: string }) => e.name === 'DB_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'flash-sale-mysql-user-service', key: 'password' });
    expect(container.env.find((e: { name: string }) => e.name === 'DAPR_API_TOKEN').valueFrom.secretKeyRef).toEqual({ name: 'dapr-api-token', key: 'token' });
    expect(container.env.find((e: { name: string }) => e.name === 'APP_API_TOKEN').valueFrom.secretKeyRef).toEqual({ name: 'dapr-app-token', key: 'token' });
    // Only the ingress controller's X-Forwarded-For names the client that per-address limits see.
    expect(container.env.find((e: { name: string }) => e.name === 'TRUSTED_PROXIES').value).toBe('10.0.0.0/8');
    expect(production.some((m) => m.kind === 'Secret')).toBe(false);
  });

  it('when no token Secrets are named, then the chart generates the Dapr API and app tokens, and every sidecar and app uses them', async () => {
    const defaults = await render();
    const secrets = defaults.filter((m) => m.kind === 'Secret') as any[];
    expect(secrets.map((s) => s.metadata.name).sort()).toEqual(['flash-sale-dapr-api-token', 'flash-sale-dapr-app-token']);
    for (const secret of secrets) expect(Buffer.from(secret.data.token, 'base64').toString()).toMatch(/^[A-Za-z0-9]{48}$/);
    for (const deployment of defaults.filter((m) => m.kind === 'Deployment') as any[]) {
      expect(deployment.spec.template.metadata.annotations).toMatchObject({
        'dapr.io/api-token-secret': 'flash-sale-dapr-api-token', 'dapr.io/app-token-secret': 'flash-sale-dapr-app-token',
      });
      const env = deployment.spec.template.spec.containers[0].env as { name: string; valueFrom?: any }[];
      expect(env.find((e) => e.name === 'DAPR_API_TOKEN')?.valueFrom.secretKeyRef).toEqual({ name: 'flash-sale-dapr-api-token', key: 'token' });
      expect(env.find((e) => e.name === 'APP_API_TOKEN')?.valueFrom.secretKeyRef).toEqual({ name: 'flash-sale-dapr-app-token', key: 'token' });
    }
  });

  it('when the chart is copied or packaged, then it is self-contained: no symlink, its copies equal their sources, and the archive renders', async () => {
    const links = (dir: string): string[] => readdirSync(dir).flatMap((f) => {
      const file = path.join(dir, f);
      const stat = lstatSync(file);
      return stat.isSymbolicLink() ? [path.relative(chart, file)] : stat.isDirectory() ? links(file) : [];
    });
    expect(links(chart)).toEqual([]);
    // Run `npm run chart:sync` after changing dapr/components, dapr/access-control.json, the route or topic table.
    expect(staleChartFiles()).toEqual([]);
    const dir = mkdtempSync(path.join(tmpdir(), 'flash-chart-package-'));
    try {
      await helm('package', chart, '-d', dir);
      const [archive] = readdirSync(dir);
      const fromArchive = await helm('template', 'flash-sale', path.join(dir, archive!), ...CLUSTER);
      const fromFolder = await helm('template', 'flash-sale', chart, ...CLUSTER);
      const withoutSecrets = (out: string) => out.replace(/token: .*/g, 'token: <generated>');
      expect(withoutSecrets(fromArchive.stdout)).toEqual(withoutSecrets(fromFolder.stdout));
      expect(fromFolder.stderr).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when helm renders and lints without --kube-version, then it uses the Kubernetes version compiled into it', async () => {
    const { stdout } = await helm('template', 'flash-sale', chart, '--api-versions', 'dapr.io/v1alpha1', '--show-only', 'templates/services.yaml');
    expect(stdout).toContain('kind: Service');
    const lint = await helm('lint', '--strict', chart, '--set', 'dapr.requireCrds=false');
    expect(lint.stdout).toContain('0 chart(s) failed');
  });

  it('when daprd’s HTTP metrics are configured, then their path label is bounded, locally and in the chart', async () => {
    const local = parse(readFileSync(path.join(repoRoot, 'dapr/config.yaml'), 'utf8'));
    expect(local.spec.metrics.http).toEqual({ increasedCardinality: false });
    expect(local.spec.mtls).toMatchObject({ enabled: true });
    for (const configuration of (await render()).filter((m) => m.kind === 'Configuration') as any[]) {
      expect(configuration.spec.metrics.http).toEqual({ increasedCardinality: false });
    }
  });

  it('when the Prometheus Operator is installed, then the chart ships the alert rules as a PrometheusRule, unchanged', async () => {
    const [rule] = (await render('--api-versions', 'monitoring.coreos.com/v1/PrometheusRule')).filter((m) => m.kind === 'PrometheusRule') as any[];
    expect(rule.spec).toEqual(parse(readFileSync(path.join(chart, 'alerts/flash-sale.rules.yaml'), 'utf8')));
    expect((await render('--api-versions', 'monitoring.coreos.com/v1/PrometheusRule', '--set', 'prometheusRule.enabled=false')).some((m) => m.kind === 'PrometheusRule')).toBe(false);
  });

  it('when the Dapr CRDs are missing, then rendering fails and says to install Dapr first', async () => {
    const failure = await helm('template', 'flash-sale', chart, '--kube-version', '1.30.0').then(() => '', (err: { stderr: string }) => err.stderr);
    expect(failure).toContain('The Dapr CRDs (dapr.io/v1alpha1) are not installed');
  });

  it('when the Dapr Configurations are rendered, then each service has its own, with the access-control policy the local sidecars get', async () => {
    const manifests = await render();
    for (const deployment of manifests.filter((m) => m.kind === 'Deployment') as any[]) {
      const service = deployment.metadata.name;
      const name = deployment.spec.template.metadata.annotations['dapr.io/config'];
      const configuration = manifests.find((m) => m.kind === 'Configuration' && m.metadata.name === name) as any;
      expect({ service, accessControl: configuration?.spec.accessControl }).toEqual({ service, accessControl: accessControlFor(service, 'default') });
    }
    const products = accessControlFor('product-service').policies.map((p) => [p.appId, p.operations.map((o) => `${o.httpVerb.join()} ${o.name}`)]);
    expect(products).toEqual([
      ['product-service', ['GET /openapi.json']],
      ['purchase-service', ['GET /api/products/*']],
      ['order-service', ['GET /api/products/*', 'POST /internal/stock/reservations/**']],
    ]);
  });

  it('when the pub/sub component is rendered, then its scopes are the topic table’s, as the local sidecars get them', async () => {
    const pubsub = (await render()).find((m) => m.kind === 'Component' && m.metadata.name === 'pubsub') as any;
    const value = (name: string) => pubsub.spec.metadata.find((m: { name: string }) => m.name === name)?.value;
    expect({ publishing: value('publishingScopes'), subscription: value('subscriptionScopes') }).toEqual(pubsubScopes());
    expect(pubsubScopes().publishing).toBe(
      'user-service=session-revoked,session-revoked-dead;product-service=session-revoked-dead;' +
        'purchase-service=purchase-paid,session-revoked-dead,refund-requested;' +
        'order-service=purchase-paid-dead,order-status-changed,session-revoked-dead,refund-requested,refund-requested-dead',
    );
  });

  it('when the NetworkPolicy is rendered, then service pods take only the ingress on the app port, sidecars of the release on daprd’s internal port, and the scraper on metrics', async () => {
    const manifests = await render();
    const policy = manifests.find((m) => m.kind === 'NetworkPolicy') as any;
    const podLabels = (manifests.filter((m) => m.kind === 'Deployment') as any[]).map((d) => d.spec.template.metadata.labels);
    for (const labels of podLabels) expect(labels).toMatchObject(policy.spec.podSelector.matchLabels);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    const rules = policy.spec.ingress.map((r: any) => ({ from: r.from[0], ports: r.ports.map((p: any) => p.port) }));
    expect(rules).toEqual([
      { from: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }, ports: [3000] },
      { from: { podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'flash-sale', 'app.kubernetes.io/instance': 'flash-sale' } } }, ports: [50002] },
      { from: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }, ports: [3000, 9090] },
    ]);
    expect((await render('--set', 'networkPolicy.enabled=false')).some((m) => m.kind === 'NetworkPolicy')).toBe(false);
  });

  it('when the throwaway data stores are checked, then every object is valid and only the release’s pods may reach them', () => {
    const manifests = parseAllDocuments(readFileSync(path.join(repoRoot, 'k8s/throwaway-data.yaml'), 'utf8')).map((d) => d.toJSON() as Manifest);
    expect(validateAll(manifests)).toEqual([]);
    const policy = manifests.find((m) => m.kind === 'NetworkPolicy') as any;
    expect(policy.spec.ingress).toEqual([{
      from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'flash-sale' } } }],
      ports: [{ protocol: 'TCP', port: 6379 }, { protocol: 'TCP', port: 3306 }],
    }]);
  });

  it('when the Ingress is rendered, then its routes are exactly the local edge’s', async () => {
    const ingress = (await render()).find((m) => m.kind === 'Ingress') as any;
    const paths = ingress.spec.rules[0].http.paths.map((p: any) => ({ prefix: p.path, service: p.backend.service.name }));
    expect(paths).toEqual(routes.map((r) => ({ prefix: r.prefix, service: r.service })));
  });

  it('when a real daprd loads the rendered Dapr resources, then every component and the resiliency policy load', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flash-chart-dapr-'));
    const id = testRunId();
    try {
      const dapr = (await render()).filter((m) => m.apiVersion.startsWith('dapr.io/') && m.kind !== 'Configuration');
      for (const m of dapr) writeFileSync(path.join(dir, `${m.kind}-${m.metadata.name}.yaml`), JSON.stringify(m));
      const sidecar = await startSidecar({
        appId: 'order-service', runDir: dir, resourcesDir: dir, ports: await freeSidecarPorts(), redisHost: redisUrl(),
        redisPassword: process.env.REDIS_PASSWORD, stateKeyPrefix: id, topicPrefix: id, apiToken: `${id}-api-token-0123456789`, appToken: `${id}-app-token-0123456789`,
      });
      try {
        const dapr = new Dapr({ httpPort: sidecar.ports.http, apiToken: `${id}-api-token-0123456789` });
        const metadata = await dapr.metadata();
        await dapr.close();
        expect(metadata.components.map((c) => c.name).sort()).toEqual(['paymentbook', 'pubsub', 'statestore']);
        const metrics = await sidecar.metrics();
        expect(metrics).toMatch(/dapr_resiliency_loaded\{[^}]*name="flash-sale-resiliency"[^}]*\} 1/);
        expect(sidecar.output()).not.toMatch(/"level":"(error|fatal)"/);
      } finally {
        await sidecar.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when skaffold.yaml is checked against skaffold’s schema, then it is valid', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(JSON.parse(readFileSync(path.join(repoRoot, 'test/schemas/skaffold/v4beta13.json'), 'utf8')));
    const config = parse(readFileSync(path.join(repoRoot, 'skaffold.yaml'), 'utf8'));
    const valid = validate(config);
    expect({ valid, errors: valid ? [] : validate.errors!.slice(0, 5) }).toEqual({ valid: true, errors: [] });
    expect(config.build.artifacts.map((a: { image: string }) => a.image)).toEqual(
      ['user', 'product', 'purchase', 'order'].map((s) => `flash-sale-${s}-service`),
    );
  });
});
