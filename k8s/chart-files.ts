// The chart's copies of tables that live elsewhere in the repo: a chart must not reach outside itself (a symlink breaks
// `cp -r`, `helm package` and every helm command's output). `npm run chart:sync` refreshes them; test/chart.test.ts
// fails while they differ.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '@flash/stack';

export const chartDir = path.join(repoRoot, 'charts/flash-sale');

/** chart file or folder ← its source in the repo */
const COPIES: Record<string, string> = {
  'files/dapr': 'dapr/components',
  'files/access-control.json': 'dapr/access-control.json',
  'files/routes.json': 'packages/edge/routes.json',
  'files/topics.json': 'packages/events/topics.json',
};

/** Every file the chart should hold, as [path in the chart, path of its source], both absolute. */
function expectedFiles(): [string, string][] {
  return Object.entries(COPIES).flatMap(([copy, source]) => {
    const from = path.join(repoRoot, source);
    const to = path.join(chartDir, copy);
    if (!from.endsWith('.json')) return readdirSync(from).map((f): [string, string] => [path.join(to, f), path.join(from, f)]);
    return [[to, from]];
  });
}

/** The chart's copies that differ from their sources, are missing, or have no source any more (chart-relative). */
export function staleChartFiles(): string[] {
  const expected = expectedFiles();
  const stale = expected.filter(([copy, source]) => !existsSync(copy) || !readFileSync(copy).equals(readFileSync(source))).map(([copy]) => copy);
  for (const [copy, source] of Object.entries(COPIES)) {
    if (source.endsWith('.json') || !existsSync(path.join(chartDir, copy))) continue;
    const extra = readdirSync(path.join(chartDir, copy)).map((f) => path.join(chartDir, copy, f)).filter((f) => !expected.some(([c]) => c === f));
    stale.push(...extra);
  }
  return stale.map((f) => path.relative(chartDir, f));
}

export function syncChartFiles(): string[] {
  const stale = staleChartFiles();
  for (const copy of Object.keys(COPIES).filter((c) => !c.endsWith('.json'))) rmSync(path.join(chartDir, copy), { recursive: true, force: true });
  for (const [copy, source] of expectedFiles()) {
    mkdirSync(path.dirname(copy), { recursive: true });
    rmSync(copy, { force: true });
    copyFileSync(source, copy);
  }
  return stale;
}

if (require.main === module) {
  const changed = syncChartFiles();
  console.log(changed.length ? `[chart:sync] updated ${changed.join(', ')}` : '[chart:sync] the chart’s copies were up to date');
}
