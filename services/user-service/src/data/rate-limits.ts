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
