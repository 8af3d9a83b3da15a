/**
 * The stepped open-model runs (capacity, sold-out, refresh): before each step the stack's idle cost is measured,
 * then k6 offers a fixed arrival rate; the step's cost above idle is divided by the work it did (held attempts,
 * refusals, page reads). After each step the sale's stock invariant is checked.
 */
import { randomBytes } from 'node:crypto';
import { OWN_SQL_COUNTERS, SQL_COUNTERS, type Counts } from './counters';
import { runK6, type K6Result, type Latency } from './k6';
import { aboveIdle, part, sum, type StackMeter, type Window } from './meter';
import { log, round, table } from './report';
import { type BenchStack, type SaleInvariant } from './stack';

export const K6 = 'k6';
/** A step is within target when p99 ≤ this, nothing dropped, no 5xx, no request unanswered and the invariant holds. */
export const P99_TARGET_MS = 50;

const env = process.env;
export const stepSeconds = () => Number(env.BENCH_STEP_SECONDS ?? 30);
export const idleWindowSeconds = () => Number(env.BENCH_IDLE_WINDOW_SECONDS ?? 10);
/** BENCH_STEPS (a comma list of rates a second), or the scenario's own. */
export const stepRates = (defaults: number[]) => (env.BENCH_STEPS ? env.BENCH_STEPS.split(',').map(Number) : defaults);

/** What a window cost per unit of work above idle: CPU ms per process (k6 apart), SQL, sidecar calls, Redis commands. */
export interface UnitCost {
  units: number;
  cpuMs: Record<string, number | null>;
  cpuMsTotal: number | null;
  k6CpuMs: number | null;
  /** MariaDB's global counters: every client of the shared server. */
  sql: Record<string, number | null>;
  /** The stack's own database users (where MariaDB keeps user statistics), CPU ms included. */
  ownSql: Record<string, number | null>;
  sidecarCalls: Record<string, number | null>;
  sidecarCallsTotal: number | null;
  redisCommands: number | null;
}

export function costPerUnit(window: Window, idlePerSecond: Counts, units: number): UnitCost {
  const cost = aboveIdle(window, idlePerSecond);
  const per = (v: number) => (units > 0 ? round(v / units, 3) : null);
  const perEach = (values: Record<string, number>) => Object.fromEntries(Object.entries(values).map(([k, v]) => [k, per(v)]));
  const cpu = part(cost, 'cpu:');
  const ours = Object.fromEntries(Object.entries(cpu).filter(([name]) => name !== K6));
  const sidecars = part(cost, 'sidecar:');
  return {
    units,
    cpuMs: perEach(ours),
    cpuMsTotal: per(sum(ours)),
    k6CpuMs: cpu[K6] === undefined ? null : per(cpu[K6]),
    sql: perEach(part(cost, 'sql:')),
    ownSql: perEach(part(cost, 'ours:')),
    sidecarCalls: perEach(sidecars),
    sidecarCallsTotal: per(sum(sidecars)),
    redisCommands: per(cost['redis:commands'] ?? 0),
  };
}

/** The background per second: CPU % of one core per process, SQL statements, sidecar calls, Redis commands. */
export function idleRates(perSecond: Counts) {
  return {
    cpuPercentOfOneCore: Object.fromEntries(Object.entries(part(perSecond, 'cpu:')).map(([k, v]) => [k, round(v / 10, 1)])),
    sqlPerSecond: Object.fromEntries(Object.entries(part(perSecond, 'sql:')).map(([k, v]) => [k, round(v, 1)])),
    ownSqlPerSecond: Object.fromEntries(Object.entries(part(perSecond, 'ours:')).map(([k, v]) => [k, round(v, 1)])),
    sidecarCallsPerSecond: round(sum(part(perSecond, 'sidecar:')), 1),
    redisCommandsPerSecond: round(perSecond['redis:commands'] ?? 0, 1),
  };
}

export interface StepSpec {
  label: string;
  rate: number;
  script: string;
  vars: Record<string, string>;
  /** The Trend whose latency the step is judged by. */
  latency: string;
  /** The work the cost is divided by (held attempts, refusals, page reads). */
  units: (k6: K6Result) => number;
  /** The sale whose invariant must hold afterwards. */
  saleId?: string;
  /** Runs beside k6 (a sampler); what it resolves is kept with the step. */
  alongside?: (done: Promise<void>) => Promise<Record<string, unknown>>;
}

export interface StepResult {
  label: string;
  rate: number;
  seconds: number;
  achievedPerSecond: number | null;
  dropped: number;
  latency: Latency | null;
  serverErrors: number;
  /** Requests that got no answer at all (timeout, connection reset). */
  noAnswer: number;
  outcomes: Record<string, number>;
  perUnit: UnitCost;
  peakRssMiB: Record<string, number>;
  idle: ReturnType<typeof idleRates>;
  invariant: { consistent: boolean; ledgerBalances: boolean; quantity: number; ledger: SaleInvariant['ledger'] } | null;
  withinTarget: boolean;
  alongside?: Record<string, unknown>;
}

export async function runStep(stack: BenchStack, meter: StackMeter, spec: StepSpec): Promise<StepResult> {
  const seconds = stepSeconds();
  log(`${spec.label}: idle ${idleWindowSeconds()} s, then ${spec.rate}/s for ${seconds} s`);
  const idle = await meter.idle(idleWindowSeconds());
  const vars = { BASE: stack.base, RATE: String(spec.rate), DURATION: `${seconds}s`, RUN: randomBytes(4).toString('hex'), ...spec.vars };
  let extra: Record<string, unknown> | undefined;
  const { result: k6, window } = await meter.window(async (follow) => {
    let finished!: () => void;
    const done = new Promise<void>((r) => (finished = r));
    const beside = spec.alongside?.(done);
    try {
      return await runK6(spec.script, vars, stack.file(`k6-${vars.RUN}.json`), (pid) => follow(K6, pid));
    } finally {
      finished();
      extra = await beside;
    }
  });
  const latency = k6.trend(spec.latency);
  const serverErrors = k6.count('server_errors');
  const dropped = k6.count('dropped_iterations');
  const noAnswer = k6.count('no_answer');
  let invariant: StepResult['invariant'] = null;
  if (spec.saleId) {
    const i = await stack.saleInvariant(spec.saleId);
    invariant = { consistent: i.consistent, ledgerBalances: i.ledgerBalances, quantity: i.quantity, ledger: i.ledger };
  }
  const invariantOk = !invariant || (invariant.consistent && invariant.ledgerBalances);
  return {
    label: spec.label,
    rate: spec.rate,
    seconds: round(window.seconds, 1)!,
    achievedPerSecond: latency ? round(latency.count / seconds, 1) : null,
    dropped,
    latency,
    serverErrors,
    noAnswer,
    outcomes: {
      held: k6.count('held'), soldOut: k6.count('sold_out'), otherRefusals: k6.count('other_refusals'),
      ...Object.fromEntries([500, 502, 503, 504].map((s) => [`status${s}`, k6.count(`status_${s}`)]).filter(([, n]) => n)),
    },
    perUnit: costPerUnit(window, idle.perSecond, spec.units(k6)),
    peakRssMiB: window.peakRssMiB,
    idle: idleRates(idle.perSecond),
    invariant,
    withinTarget: invariantOk && dropped === 0 && serverErrors === 0 && noAnswer === 0 && latency?.p99 !== null && (latency?.p99 ?? Infinity) <= P99_TARGET_MS,
    ...(extra ? { alongside: extra } : {}),
  };
}

/** The highest offered rate whose step stayed within target. */
export const bestRate = (steps: StepResult[]) => Math.max(0, ...steps.filter((s) => s.withinTarget).map((s) => s.rate)) || null;

const SHARED_NOTE = 'MariaDB and Redis are the machine\'s, shared with other runs: their CPU and global counts include whatever else ran (idle subtracted, measured just before each step); "stack\'s own users" counts only this stack\'s database users (MariaDB user statistics).';

/** SQL statements per unit: the stack's own users' where counted, else the whole server's (marked). */
const sqlCell = (cost: UnitCost) => (cost.ownSql.statements !== undefined ? cost.ownSql.statements : cost.sql.Questions === null ? null : `${cost.sql.Questions} (server)`);

/** Which 5xx a step got: ` [503×2]`. */
const statuses = (s: StepResult) => {
  const seen = Object.entries(s.outcomes).filter(([k]) => k.startsWith('status')).map(([k, n]) => `${k.slice(6)}×${n}`);
  return seen.length ? ` [${seen.join(', ')}]` : '';
};

/** The report of stepped runs: one line per step, then CPU per unit and peak memory per process. */
export function stepTables(steps: StepResult[], unit: string): string[] {
  const invariantCell = (s: StepResult) => (s.invariant ? (s.invariant.consistent && s.invariant.ledgerBalances ? 'OK' : 'BROKEN') : '–');
  const overview = table(
    ['step', 'offered/s', 'achieved/s', 'dropped', 'p50 ms', 'p95 ms', 'p99 ms', '5xx (no answer)', unit + 's', `CPU ms/${unit} (ours)`, `k6 CPU ms/${unit}`, `SQL/${unit}`, `sidecar calls/${unit}`, `Redis cmds/${unit}`, 'invariant', `p99 ≤ ${P99_TARGET_MS}, 0 dropped, 0 5xx, all answered`],
    steps.map((s) => [
      s.label, s.rate, s.achievedPerSecond, s.dropped, s.latency?.p50, s.latency?.p95, s.latency?.p99, `${s.serverErrors}${statuses(s)} (${s.noAnswer})`, s.perUnit.units,
      s.perUnit.cpuMsTotal, s.perUnit.k6CpuMs, sqlCell(s.perUnit), s.perUnit.sidecarCallsTotal, s.perUnit.redisCommands, invariantCell(s), s.withinTarget ? 'yes' : 'no',
    ]),
  );
  const names = [...new Set(steps.flatMap((s) => Object.keys(s.perUnit.cpuMs)))];
  const cpu = table(
    [`CPU ms per ${unit}, idle subtracted`, ...steps.map((s) => s.label)],
    [
      ...names.map((n) => [n, ...steps.map((s) => s.perUnit.cpuMs[n])]),
      ['**all of ours**', ...steps.map((s) => s.perUnit.cpuMsTotal)],
      ['k6 (apart)', ...steps.map((s) => s.perUnit.k6CpuMs)],
    ],
  );
  const own = steps.some((s) => Object.keys(s.perUnit.ownSql).length);
  const sql = table(
    [`SQL per ${unit}, idle subtracted`, ...steps.map((s) => s.label)],
    [
      ...(own ? Object.keys(OWN_SQL_COUNTERS).map((c) => [`stack's own users: ${c}`, ...steps.map((s) => s.perUnit.ownSql[c])]) : []),
      ...SQL_COUNTERS.map((c) => [`whole server: ${c}`, ...steps.map((s) => s.perUnit.sql[c])]),
    ],
  );
  const sidecarNames = [...new Set(steps.flatMap((s) => Object.keys(s.perUnit.sidecarCalls)))];
  const sidecars = table(
    [`sidecar calls per ${unit}`, ...steps.map((s) => s.label)],
    sidecarNames.map((n) => [n, ...steps.map((s) => s.perUnit.sidecarCalls[n])]),
  );
  const rssNames = [...new Set(steps.flatMap((s) => Object.keys(s.peakRssMiB)))];
  const rss = table(['peak RSS MiB', ...steps.map((s) => s.label)], rssNames.map((n) => [n, ...steps.map((s) => s.peakRssMiB[n])]));
  const idle = table(
    ['idle before the step', ...steps.map((s) => s.label)],
    [
      ['CPU % of a core, all of ours', ...steps.map((s) => round(sum(Object.fromEntries(Object.entries(s.idle.cpuPercentOfOneCore).filter(([k]) => k !== K6).map(([k, v]) => [k, v ?? 0]))), 1))],
      ['SQL statements/s (stack\'s own users)', ...steps.map((s) => s.idle.ownSqlPerSecond.statements)],
      ['SQL statements/s (whole server)', ...steps.map((s) => s.idle.sqlPerSecond.Questions)],
      ['sidecar calls/s', ...steps.map((s) => s.idle.sidecarCallsPerSecond)],
      ['Redis commands/s (whole server)', ...steps.map((s) => s.idle.redisCommandsPerSecond)],
    ],
  );
  return [overview, cpu, sql, sidecars, rss, idle, SHARED_NOTE];
}
