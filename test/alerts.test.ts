import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { alertRulesFile, repoRoot } from '@flash/stack';
import { alertRules, panelQueries } from './support/sre-view';

const run = promisify(execFile);
/** Every PromQL expression an SRE sees: each dashboard panel's and each alert's, named. */
const expressions: [string, string][] = [
  ...panelQueries.map((q): [string, string] => [q.where, q.expr]),
  ...alertRules.map((r): [string, string] => [`alert ${r.alert}`, r.expr]),
];

// daprd 1.18's metric names, read off a running sidecar (shared/DAPR-NOTES.md); a name outside these is an empty panel.
const DAPRD_METRICS = [
  'dapr_http_server_request_count', 'dapr_http_server_latency_bucket', 'dapr_http_client_completed_count',
  'dapr_http_client_roundtrip_latency_bucket', 'dapr_runtime_service_invocation_req_sent_total', 'dapr_component_state_count',
  'dapr_component_state_latencies_bucket', 'dapr_component_pubsub_egress_count', 'dapr_component_pubsub_ingress_count',
  'dapr_component_input_binding_count', 'dapr_resiliency_count', 'dapr_resiliency_loaded', 'dapr_resiliency_activations_total', 'dapr_resiliency_cb_state',
];
// kube-state-metrics, which every cluster's Prometheus stack runs.
const CLUSTER_METRICS = ['kube_pod_container_status_restarts_total'];

/**
 * The metrics our services and shared packages register (`metrics.counter('name', …)`, `metrics.gauge('name', …)`) and
 * packages/http's request histogram.
 */
function serviceMetrics(): string[] {
  const names = ['http_request_duration_seconds_bucket', 'http_request_duration_seconds_count', 'http_request_duration_seconds_sum'];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (file.endsWith('.ts')) for (const m of readFileSync(file, 'utf8').matchAll(/metrics\.(?:counter|gauge)\('([a-z_]+)'/g)) names.push(m[1]!);
    }
  };
  for (const group of ['services', 'packages']) for (const name of readdirSync(path.join(repoRoot, group))) walk(path.join(repoRoot, group, name, 'src'));
  return names;
}

/** The metric names a PromQL expression selects (a name followed by a label matcher or a range). */
const selectedMetrics = (expr: string) => [...expr.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?=[{[])/g)].map((m) => m[1]!);

describe('the SRE view: alert rules and dashboard queries', () => {
  it('when promtool checks the chart’s alert rules, then they are valid', async () => {
    const { stdout } = await run('promtool', ['check', 'rules', alertRulesFile]);
    expect(stdout).toContain(`SUCCESS: ${alertRules.length} rules found`);
    expect(alertRules.map((r) => r.alert)).toEqual([
      'FlashSaleHigh5xxRatio', 'FlashSaleSoldOutAnswersSlow', 'FlashSaleOutboxBacklog', 'FlashSaleStockInvariantBreach', 'DaprSidecarRestarting',
      'FlashSaleEventsDeadLettered',
    ]);
  });

  it('when promtool runs the rules’ unit tests, then each alert fires on its breach, with its labels and text, and stays quiet otherwise', async () => {
    const { stdout } = await run('promtool', ['test', 'rules', path.join(repoRoot, 'test/prometheus/alerts.test.yaml')]);
    expect(stdout).toContain('SUCCESS');
  });

  it('when every dashboard panel and alert expression is parsed by promtool, then each is valid PromQL', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flash-promql-'));
    try {
      const file = path.join(dir, 'expressions.yaml');
      const recordings = expressions.map(([, expr], i) => ({ record: `flash_sale:expression_${i}`, expr }));
      writeFileSync(file, stringify({ groups: [{ name: 'every-expression', rules: recordings }] }));
      const { stdout } = await run('promtool', ['check', 'rules', file]);
      expect(stdout).toContain(`SUCCESS: ${expressions.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when the metric names of every panel and alert are looked up, then each is one that daprd, a service or kube-state-metrics exposes', () => {
    const known = new Set([...DAPRD_METRICS, ...CLUSTER_METRICS, ...serviceMetrics()]);
    const unknown = expressions.flatMap(([where, expr]) => selectedMetrics(expr).filter((m) => !known.has(m)).map((m) => `${where}: ${m}`));
    expect(unknown).toEqual([]);
    expect(expressions.length).toBeGreaterThanOrEqual(15);
  });
});
