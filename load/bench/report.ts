/** Markdown tables for the terminal and the README, and the JSON results file of a run. */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '@flash/stack';

/** Progress, on stderr (the report goes to stdout). */
export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Cell = string | number | null | undefined;

export const round = (v: number | null | undefined, digits = 2): number | null => {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f || 0;
};

const cell = (v: Cell) => (v === null || v === undefined ? '–' : typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 3 }) : v);

export function table(headers: string[], rows: Cell[][]): string {
  return [
    `| ${headers.join(' | ')} |`,
    `| ${headers.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

/** Prints `text` on stdout (the report; progress goes to stderr). */
export const print = (...blocks: string[]) => process.stdout.write(`${blocks.join('\n\n')}\n`);

/** `<BENCH_RESULTS_DIR or load/results>/<name>-<time><ending>`, its directory made. */
export function resultPath(name: string, ending = ''): string {
  const dir = process.env.BENCH_RESULTS_DIR ?? path.join(repoRoot, 'load', 'results');
  mkdirSync(dir, { recursive: true });
  return path.join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}${ending}`);
}

/** Writes `results` to `<BENCH_RESULTS_DIR or load/results>/<scenario>-<time>.json` and says where. */
export function writeResults(scenario: string, results: unknown): string {
  const file = resultPath(scenario, '.json');
  writeFileSync(file, JSON.stringify(results, null, 2));
  process.stdout.write(`\nresults: ${file}\n`);
  return file;
}

/** What the machine was, for the README's Performance section. */
export function machine(): Record<string, unknown> {
  return { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), loadAverage: os.loadavg().map((v) => round(v)), node: process.version };
}
