/**
 * `npm run bench:edge`: what the local edge costs per proxied request. A no-op app (answers 401 like the auth guard)
 * runs in its own process, the edge in another; k6 sends BENCH_RATE (1,000, or a list like 1000,2000) requests a
 * second for BENCH_DURATION (20s), open model, once through the edge and once straight to the app. CPU per request
 * of each process comes from /proc. Prints a table and writes results/edge-<time>.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot, toolsBin } from '@flash/stack';
import { cpuMs } from '../measure/proc';
import { startNoopStack } from './noop-stack';

const RATES = (process.env.BENCH_RATE ?? '1000').split(',').map(Number);
const DURATION = process.env.BENCH_DURATION ?? '20s';
const log = (msg: string) => process.stderr.write(`[edge] ${msg}\n`);

interface Row { path: 'edge → app' | 'straight to app'; rate: number; achieved: number; dropped: number; p50: number; p99: number; errors: number; edgeMs: number | null; appMs: number; k6Ms: number }

async function k6Run(base: string, rate: number, pids: { edge?: number; app: number }): Promise<Omit<Row, 'path'>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-bench-'));
  const summary = path.join(dir, 'summary.json');
  const before = { edge: pids.edge ? cpuMs(pids.edge) : 0, app: cpuMs(pids.app) };
  const k6 = spawn(path.join(toolsBin(), 'k6'), ['run', '--quiet', '-e', `BASE=${base}`, '-e', `RATE=${rate}`, '-e', `DURATION=${DURATION}`, '-e', `SUMMARY=${summary}`, path.join(repoRoot, 'load/noop.js')], {
    stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, K6_NO_USAGE_REPORT: 'true' },
  });
  let k6Cpu = 0;
  const sampler = setInterval(() => (k6Cpu = cpuMs(k6.pid!) || k6Cpu), 200);
  await new Promise((resolve) => k6.on('exit', resolve));
  clearInterval(sampler);
  const data = JSON.parse(readFileSync(summary, 'utf8')) as { metrics: Record<string, { values: Record<string, number> }> };
  rmSync(dir, { recursive: true, force: true });
  const requests = data.metrics.http_reqs?.values.count ?? 0;
  const perRequest = (ms: number) => Math.round((ms / requests) * 1000) / 1000;
  const duration = data.metrics.http_req_duration!.values;
  return {
    rate,
    achieved: Math.round(data.metrics.http_reqs?.values.rate ?? 0),
    dropped: data.metrics.dropped_iterations?.values.count ?? 0,
    p50: Math.round(duration.med! * 10) / 10,
    p99: Math.round(duration['p(99)']! * 10) / 10,
    errors: data.metrics.server_errors?.values.count ?? 0,
    edgeMs: pids.edge ? perRequest(cpuMs(pids.edge) - before.edge) : null,
    appMs: perRequest(cpuMs(pids.app) - before.app),
    k6Ms: perRequest(k6Cpu),
  };
}

async function main(): Promise<void> {
  const { app, edgePid, appPort, edgePort, stop } = await startNoopStack();
  const rows: Row[] = [];
  try {
    for (const rate of RATES) {
      log(`${rate}/s for ${DURATION} through the edge, then straight to the app`);
      rows.push({ path: 'edge → app', ...(await k6Run(`http://127.0.0.1:${edgePort}`, rate, { edge: edgePid, app: app.pid! })) });
      rows.push({ path: 'straight to app', ...(await k6Run(`http://127.0.0.1:${appPort}`, rate, { app: app.pid! })) });
    }
  } finally {
    await stop();
  }
  const lines = rows.map((r) => `| ${r.path} | ${r.rate} | ${r.achieved} | ${r.dropped} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.edgeMs ?? '–'} | ${r.appMs} | ${r.k6Ms} |`);
  process.stdout.write(['| path | rate/s | achieved/s | dropped | p50 ms | p99 ms | 5xx/errors | edge CPU ms/req | app CPU ms/req | k6 CPU ms/req |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |', ...lines].join('\n') + '\n');
  const dir = path.join(repoRoot, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `edge-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ duration: DURATION, rows }, null, 2));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
