/**
 * `npm run bench -- <scenario>`: starts a stack of its own (real sidecars, own databases, keys and topics), runs the
 * scenario against it, prints a markdown report and writes it as JSON to load/results/<scenario>-<time>.json
 * (BENCH_RESULTS_DIR to change that), then removes the stack. Exits non-zero when an invariant breaks (and, for the
 * single runs flash-spike, steady-browse and mixed, on a 5xx).
 */
import { capacity } from './scenarios/capacity';
import { browse } from './scenarios/browse';
import { flashSpike } from './scenarios/flash-spike';
import { idle } from './scenarios/idle';
import { refresh } from './scenarios/refresh';
import { soldOut } from './scenarios/sold-out';
import { unauthenticated } from './scenarios/unauthenticated';
import { withStack, type BenchStack } from './stack';

const SCENARIOS: Record<string, (stack: BenchStack) => Promise<number>> = {
  'flash-spike': flashSpike,
  capacity,
  'sold-out': soldOut,
  refresh,
  idle,
  unauthenticated,
  'steady-browse': (stack) => browse(stack, 'steady-browse'),
  mixed: (stack) => browse(stack, 'mixed'),
};

export async function main(argv: string[]): Promise<number> {
  const scenario = SCENARIOS[argv[0] ?? ''];
  if (!scenario) {
    process.stderr.write(`usage: npm run bench -- <${Object.keys(SCENARIOS).join('|')}>\n`);
    return 2;
  }
  return withStack(scenario);
}
