/**
 * Work counted, not timed: SQL statements (MariaDB's global status), calls into each sidecar (daprd's own
 * `dapr_http_server_request_count`) and Redis commands (`INFO stats`). MariaDB and Redis are the machine's, shared
 * with every other stack and test run on it: their global counts include whatever else ran in the same window.
 * Where MariaDB keeps user statistics (`userstat`; BENCH_MARIADB_USERSTAT=on turns it on), the statements and the
 * server CPU of the stack's own database users are counted exactly, beside the global figures.
 */
import type Redis from 'ioredis';
import mysql from 'mysql2/promise';
import { mysqlServerFromEnv, redisClient } from '@flash/stack';
import type { StackProcess } from './processes';
import { log } from './report';

/**
 * Counters by name: `sql:Questions`, `sql:Com_insert`, …, `redis:commands`, and one per sidecar series,
 * `sidecar:<app id> daprd|<labels>` (see `sidecarCalls`).
 */
export type Counts = Record<string, number>;

export const SQL_COUNTERS = ['Questions', 'Com_select', 'Com_insert', 'Com_update', 'Com_delete', 'Com_begin', 'Com_commit', 'Com_rollback'] as const;

/** Per database user (information_schema.USER_STATISTICS): `ours:<name>` summed over the stack's users. */
export const OWN_SQL_COUNTERS = {
  statements: 'SELECT_COMMANDS + UPDATE_COMMANDS + OTHER_COMMANDS',
  selects: 'SELECT_COMMANDS',
  changes: 'UPDATE_COMMANDS',
  other: 'OTHER_COMMANDS',
  commits: 'COMMIT_TRANSACTIONS',
  rollbacks: 'ROLLBACK_TRANSACTIONS',
  cpuMs: 'CPU_TIME * 1000',
} as const;

export class WorkCounters {
  private readonly redis: Redis;
  private sql?: mysql.Connection;
  private userstat?: boolean;

  /** `dbUsers`: the stack's own MariaDB users, whose statements are counted apart where the server can. */
  constructor(private readonly sidecars: StackProcess[], private readonly dbUsers: string[] = []) {
    this.redis = redisClient({ lazyConnect: true });
  }

  async read(): Promise<Counts> {
    const [sql, own, redis, ...sidecars] = await Promise.all([
      this.sqlStatus(), this.ownStatements(), this.redisCommands(), ...this.sidecars.map((s) => sidecarCalls(s)),
    ]);
    return Object.assign({ ...sql, ...own, 'redis:commands': redis }, ...sidecars);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
    await this.sql?.end();
  }

  private async sqlStatus(): Promise<Counts> {
    this.sql ??= await mysql.createConnection({ ...mysqlServerFromEnv() });
    const [rows] = await this.sql.query(`SHOW GLOBAL STATUS WHERE Variable_name IN (${SQL_COUNTERS.map(() => '?').join(', ')})`, [...SQL_COUNTERS]);
    return Object.fromEntries((rows as { Variable_name: string; Value: string }[]).map((r) => [`sql:${r.Variable_name}`, Number(r.Value)]));
  }

  /** The stack's own users' counters, when the server keeps user statistics; nothing otherwise. */
  private async ownStatements(): Promise<Counts> {
    if (!this.dbUsers.length) return {};
    this.sql ??= await mysql.createConnection({ ...mysqlServerFromEnv() });
    if (this.userstat === undefined) {
      const [[row]] = (await this.sql.query('SELECT @@userstat AS on_')) as unknown as [{ on_: number }[]];
      if (!row?.on_ && process.env.BENCH_MARIADB_USERSTAT === 'on') {
        await this.sql.query('SET GLOBAL userstat = 1');
        log('MariaDB user statistics turned on (SET GLOBAL userstat = 1): this server keeps them until it restarts or someone turns them off');
      }
      this.userstat = Boolean(row?.on_) || process.env.BENCH_MARIADB_USERSTAT === 'on';
      if (!this.userstat) log('MariaDB keeps no user statistics: SQL is counted server-wide only (BENCH_MARIADB_USERSTAT=on counts the stack\'s own)');
    }
    if (!this.userstat) return {};
    const columns = Object.entries(OWN_SQL_COUNTERS).map(([name, expr]) => `COALESCE(SUM(${expr}), 0) AS ${name}`).join(', ');
    const [rows] = await this.sql.query(`SELECT ${columns} FROM information_schema.USER_STATISTICS WHERE USER IN (?)`, [this.dbUsers]);
    const row = (rows as Record<string, string | number>[])[0] ?? {};
    return Object.fromEntries(Object.keys(OWN_SQL_COUNTERS).map((name) => [`ours:${name}`, Number(row[name] ?? 0)]));
  }

  private async redisCommands(): Promise<number> {
    if (this.redis.status === 'wait') await this.redis.connect();
    return Number(/total_commands_processed:(\d+)/.exec(await this.redis.info('stats'))?.[1] ?? 0);
  }
}

/**
 * Requests a sidecar's HTTP API has served, one counter per series (method, path, status), so a series that appears
 * counts from zero and one that is gone counts nothing. A sidecar whose metrics cannot be read (three tries) gives
 * NaN, which the report shows as unknown rather than as a drop to zero.
 */
async function sidecarCalls(sidecar: StackProcess): Promise<Counts> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`http://127.0.0.1:${sidecar.metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const series: Counts = {};
      for (const line of (await res.text()).split('\n')) {
        const m = /^dapr_http_server_request_count(\{[^}]*\})? ([\d.e+]+)$/.exec(line);
        if (m) series[`sidecar:${sidecar.name}|${m[1] ?? ''}`] = Number(m[2]);
      }
      return series;
    } catch (err) {
      if (attempt === 3) {
        log(`the metrics of ${sidecar.name} could not be read (${String(err)}): its calls are unknown in this window`);
        return { [`sidecar:${sidecar.name}|unread`]: NaN };
      }
    }
  }
}

/** `counts` with the sidecar series added up per sidecar: `sidecar:<app id> daprd`. */
export function bySidecar(counts: Counts): Counts {
  const out: Counts = {};
  for (const [key, value] of Object.entries(counts)) {
    const name = key.startsWith('sidecar:') ? key.split('|')[0]! : key;
    out[name] = (out[name] ?? 0) + value;
  }
  return out;
}
