import { RateLimiterMySQL, RateLimiterRes } from 'rate-limiter-flexible';
import type { DataSource } from 'typeorm';
import { AccountErrors } from '../domain/errors';
import type { Allowance } from '../domain/ports';

/** Counters in this service's own database (table rate_limits, rate-limiter-flexible's layout), shared by every replica. */
export function mysqlLimiter(db: DataSource, keyPrefix: string, points: number, windowSeconds: number): RateLimiterMySQL {
  return new RateLimiterMySQL({
    // TypeORM's mysql2 pool; the table comes from a migration.
    storeClient: (db.driver as unknown as { pool: unknown }).pool,
    dbName: db.options.database as string,
    tableName: 'rate_limits',
    tableCreated: true,
    clearExpiredByTimeout: false,
    keyPrefix,
    points,
    duration: windowSeconds,
  });
}

export const secondsUntil = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

/** Spends one point; past the limit, TOO_MANY_ATTEMPTS with the seconds until the window ends. */
export async function spendOrRefuse(limiter: RateLimiterMySQL, key: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) throw AccountErrors.tooManyAttempts(secondsUntil(rejection));
    throw rejection;
  }
}

/** A fixed number of actions per key and window (e.g. code resends per account per hour). */
export class MySqlAllowance implements Allowance {
  private readonly limiter: RateLimiterMySQL;

  constructor(db: DataSource, name: string, points: number, windowSeconds: number) {
    this.limiter = mysqlLimiter(db, name, points, windowSeconds);
  }

  spend(key: string): Promise<void> {
    return spendOrRefuse(this.limiter, key);
  }
}

/** Expired counters deleted per statement. */
const PURGE_BATCH = 1000;
/** Expired counters may wait this long for the purge: one run a minute at most, however busy the limits are. */
const PURGE_GAP_MS = 60_000;

/**
 * Deletes expired counters (every address and email ever limited would otherwise stay a row); resolves how long
 * until the next purge is worth a run.
 */
export async function purgeExpiredLimits(db: DataSource, now = Date.now()): Promise<number | undefined> {
  const result = (await db.query('DELETE FROM rate_limits WHERE expire < ? LIMIT ?', [now, PURGE_BATCH])) as { affectedRows?: number };
  if ((result.affectedRows ?? 0) === PURGE_BATCH) return 0;
  const [row] = (await db.query('SELECT MIN(expire) AS at FROM rate_limits')) as { at: string | number | null }[];
  return row?.at == null ? undefined : Math.max(PURGE_GAP_MS, Number(row.at) - now);
}
