import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, toolsBin } from '@flash/stack';

interface K6Metrics { metrics: Record<string, { values: Record<string, number> } | undefined> }

export interface Latency { count: number; p50: number | null; p95: number | null; p99: number | null; max: number | null }

export const ms = (v: number | undefined) => (v === undefined ? null : Math.round(v * 10) / 10);

/** What one k6 run reported (its handleSummary JSON). */
export class K6Result {
  constructor(readonly exitCode: number, private readonly data: K6Metrics) {}

  get thresholdsPassed(): boolean {
    return this.exitCode === 0;
  }

  /** A Trend's count and percentiles (ms); null when nothing was recorded. */
  trend(name: string): Latency | null {
    const v = this.data.metrics[name]?.values;
    return v ? { count: v.count ?? 0, p50: ms(v.med), p95: ms(v['p(95)']), p99: ms(v['p(99)']), max: ms(v.max) } : null;
  }

  count(name: string): number {
    return this.data.metrics[name]?.values.count ?? 0;
  }

  value(name: string, stat: string): number | undefined {
    return this.data.metrics[name]?.values[stat];
  }
}

/**
 * Runs `load/<script>` with `vars` (-e NAME=value) and reads its summary; `onStart` gets k6's pid so its own CPU can
 * be measured apart. Every script writes its summary to `SUMMARY` (handleSummary).
 */
export async function runK6(script: string, vars: Record<string, string>, summaryFile: string, onStart?: (pid: number) => void): Promise<K6Result> {
  const all = { ...vars, SUMMARY: summaryFile };
  // BENCH_K6_OUT=<dir>: each run's every request as k6 JSON points, named like its summary (for a timeline).
  const points = process.env.BENCH_K6_OUT ? ['--out', `json=${path.join(process.env.BENCH_K6_OUT, path.basename(summaryFile))}`] : [];
  const args = ['run', '--quiet', ...points, ...Object.entries(all).flatMap(([k, v]) => ['-e', `${k}=${v}`]), path.join(repoRoot, 'load', script)];
  const k6 = spawn(path.join(toolsBin(), 'k6'), args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, K6_NO_USAGE_REPORT: 'true' } });
  if (k6.pid) onStart?.(k6.pid);
  const exitCode = await new Promise<number>((resolve) => k6.on('exit', (code) => resolve(code ?? 1)));
  let data: K6Metrics = { metrics: {} };
  try {
    data = JSON.parse(readFileSync(summaryFile, 'utf8')) as K6Metrics;
  } catch {
    throw new Error(`k6 ${script} exited ${exitCode} without a summary`);
  } finally {
    rmSync(summaryFile, { force: true });
  }
  return new K6Result(exitCode, data);
}
