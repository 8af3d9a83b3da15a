import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { repoRoot } from './paths';
import { failOnExit, httpOk, startProcess, waitUntil, type Managed } from './processes';

/** The alert rules the chart ships; a local Prometheus evaluates them too. */
export const alertRulesFile = path.join(repoRoot, 'charts/flash-sale/alerts/flash-sale.rules.yaml');

export interface Prometheus extends Managed {
  url: string;
}

/** A stack's scrape targets: each service's /metrics (job `services`) and each daprd's metrics port (job `dapr`). */
export interface ScrapeTargets {
  services: number[];
  sidecars: number[];
}

/**
 * Starts Debian's Prometheus (scripts/prometheus.sh installs it) on 127.0.0.1:`port`, scraping `targets` every
 * second and evaluating the chart's alert rules, with its data in `dir`.
 */
export async function startPrometheus(dir: string, port: number, targets: ScrapeTargets, options: { logFile?: string } = {}): Promise<Prometheus> {
  let bin: string;
  try {
    bin = execFileSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('prometheus not found: run `bash scripts/prometheus.sh` (Debian\'s prometheus package) first');
  }
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, 'prometheus.yml');
  const staticTargets = (ports: number[]) => [{ targets: ports.map((p) => `127.0.0.1:${p}`) }];
  writeFileSync(config, stringify({
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: [alertRulesFile],
    scrape_configs: [
      { job_name: 'services', static_configs: staticTargets(targets.services) },
      { job_name: 'dapr', static_configs: staticTargets(targets.sidecars) },
    ],
  }));
  const managed = startProcess('prometheus', bin, [
    `--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=1d', '--log.level=warn',
  ], { cwd: dir, logFile: options.logFile });
  const url = `http://127.0.0.1:${port}`;
  try {
    await Promise.race([waitUntil('prometheus', () => httpOk(`${url}/-/ready`)), failOnExit(managed)]);
  } catch (err) {
    await managed.stop();
    throw new Error(`prometheus did not become ready: ${(err as Error).message}`);
  }
  return { ...managed, url };
}

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query; throws on a query Prometheus rejects. */
export async function promQuery(url: string, expr: string): Promise<Sample[]> {
  const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status: string; error?: string; data?: { result: Sample[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data!.result;
}
