import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '@flash/stack';

/** A small flash spike through the whole system (k6 against a stack of its own), as `npm run bench` runs it. */
describe('flash spike (small)', () => {
  const results = mkdtempSync(path.join(tmpdir(), 'flash-spike-'));
  afterAll(() => rmSync(results, { recursive: true, force: true }));

  it('when 300 buyers hit a 30-unit sale at its opening, then nothing is oversold or lost, orders equal sold, money equals standing orders, and no 5xx', async () => {
    const bench = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench.ts', 'flash-spike'], {
      cwd: repoRoot,
      env: { ...process.env, BENCH_BUYERS: '300', BENCH_UNITS: '30', BENCH_RESULTS_DIR: results },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    bench.stdout.on('data', (d: Buffer) => (output += d.toString()));
    bench.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => bench.on('exit', resolve));
    const file = /results: (.+\.json)/.exec(output)?.[1];
    expect({ code, file: Boolean(file) }).toEqual({ code: 0, file: true });
    const summary = JSON.parse(readFileSync(file!, 'utf8'));
    expect(summary.runs).toHaveLength(1);
    const [run] = summary.runs;
    expect(run.serverErrors).toBe(0);
    expect(run.outcomes.held + run.outcomes.soldOut).toBe(300);
    expect(run.outcomes.held).toBeGreaterThanOrEqual(30);
    expect(run.lastAnswerAfterOpeningSeconds).toBeGreaterThan(0);
    expect(run.invariant).toMatchObject({ quantity: 30, held: 0, oversold: 0, lost: 0, balances: true, consistent: true, ordersEqualSold: true });
    expect(run.invariant.sold + run.invariant.available).toBe(30);
    expect(run.invariant.orders).toBe(run.invariant.sold);
    expect(run.saleMoney).toMatchObject({ consistent: true, refundsPending: { count: 0 } });
    expect(run.saleMoney.charged - run.saleMoney.refunded).toBe(run.saleMoney.standing);
    expect(summary.money).toMatchObject({ consistent: true });
    expect(summary.luaBaseline.attemptsPerSecond).toBeGreaterThan(0);
    expect(summary.noopBaseline.attemptsPerSecond).toBeGreaterThan(0);
  }, 180_000);
});
