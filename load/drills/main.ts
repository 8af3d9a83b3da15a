/**
 * `npm run drill -- <name>|all`: starts a stack of its own (the `npm start` stack with its supervisor, as the bench
 * does), strikes each drill's fault in the opening second of a real sale, prints the table of outcomes and writes it
 * to load/results/drills-<time>.json. Exits non-zero when a drill fails. Drills with the same settings share a stack.
 */
import { cpSync } from 'node:fs';
import { log, print, resultPath, table, writeResults, machine } from '../bench/report';
import { withStack } from '../bench/stack';
import { DRILLS, type Drill } from './catalogue';
import type { DrillResult } from './sale-drill';

/** Runs the drills, each group of them on a stack of its own, and resolves their results. */
export async function runDrills(drills: Drill[]): Promise<DrillResult[]> {
  const results: DrillResult[] = [];
  const groups = new Map<string, Drill[]>();
  for (const drill of drills) {
    const key = drill.owns ? drill.name : JSON.stringify(drill.settings ?? {});
    groups.set(key, [...(groups.get(key) ?? []), drill]);
  }
  for (const group of groups.values()) {
    const owned = await group[0]!.owns?.();
    try {
      await withStack(async (stack) => {
        for (const drill of group) {
          log(`drill ${drill.name}: ${drill.faults}`);
          const result = await drill.run(stack, owned);
          results.push(result);
          // The stack's logs go with it: a failed drill keeps them, to find out why.
          if (!result.passed) {
            const kept = resultPath(`drill-logs-${drill.name}`);
            cpSync(stack.file('logs'), kept, { recursive: true });
            log(`drill ${drill.name} failed: the stack's logs so far are kept in ${kept}`);
          }
        }
      }, { ...group[0]!.settings, ...owned?.settings });
    } finally {
      await owned?.stop();
    }
  }
  return results;
}

const ms = (v: unknown) => (typeof v === 'number' ? `${(v / 1000).toFixed(1)} s` : '–');

/** The table row of a drill: drill, faults, answers by status, result. */
export function drillRow(r: DrillResult): string[] {
  const answers = Object.entries(r.answers).sort(([a], [b]) => a.localeCompare(b)).map(([status, n]) => `${status}: ${n}`).join(', ');
  const f = r.figures;
  const paid = f.paid === undefined ? '' : `, ${f.paid} paid, each one order ${ms(f.ordersAfterRecoveryMs)} after the recovery, money ${f.money}`;
  // A drill of another shape than a sale under a fault says what it measured in its own words.
  const summary = typeof f.summary === 'string' ? f.summary : `${f.held} of ${f.quantity} held or sold (${f.heldBeforeFault} held before the fault), ${f.soldOut} SOLD_OUT${paid}; last answer ${ms(f.lastAnswerAfterRecoveryMs)} and consistent ${ms(f.consistentAfterRecoveryMs)} after the recovery (${ms(f.recoveryMs)} after the fault)`;
  return [r.drill, r.faults, answers, `${r.passed ? 'passed' : `**failed**: ${r.failures.join('; ')}`}: ${summary}`];
}

export async function main(argv: string[]): Promise<number> {
  const names = argv[0] === 'all' ? DRILLS.map((d) => d.name) : argv;
  const unknown = names.filter((n) => !DRILLS.some((d) => d.name === n));
  if (!names.length || unknown.length) {
    process.stderr.write(`usage: npm run drill -- <name…>|all\n${DRILLS.map((d) => `  ${d.name.padEnd(20)} ${d.faults}`).join('\n')}\n`);
    return 2;
  }
  const results = await runDrills(DRILLS.filter((d) => names.includes(d.name)));
  print(table(['drill', 'faults', 'answers by status', 'result'], results.map(drillRow)));
  writeResults('drills', { machine: machine(), results });
  return results.every((r) => r.passed) ? 0 : 1;
}
