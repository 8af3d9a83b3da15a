import { RateLimiterMySQL, RateLimiterRes } from 'rate-limiter-flexible';
import type { DataSource } from 'typeorm';
import { AccountErrors } from '../domain/errors';
import type { LoginThrottle } from '../domain/ports';

export interface LoginLimits {
  failuresPerAccount: number;
  failureWindowSeconds: number;
  attemptsPerClient: number;
  clientWindowSeconds: number;
}

/** Fixed-window counters in this service's own database (table login_limits), shared by every replica. */
export class MySqlLoginThrottle implements LoginThrottle {
  private readonly perClient: RateLimiterMySQL;
  private readonly perAccount: RateLimiterMySQL;

  constructor(db: DataSource, limits: LoginLimits) {
    const store = {
      // TypeORM's mysql2 pool; the table comes from a migration.
      storeClient: (db.driver as unknown as { pool: unknown }).pool,
      dbName: db.options.database as string,
      tableName: 'login_limits',
      tableCreated: true,
      clearExpiredByTimeout: false,
    };
    this.perClient = new RateLimiterMySQL({
      ...store, keyPrefix: 'client', points: limits.attemptsPerClient, duration: limits.clientWindowSeconds,
    });
    this.perAccount = new RateLimiterMySQL({
      ...store, keyPrefix: 'account', points: limits.failuresPerAccount, duration: limits.failureWindowSeconds,
    });
  }

  async attempt(client: string, account: string): Promise<void> {
    await consume(this.perClient, client);
    // Counted before the password is checked, so concurrent guesses cannot slip past the limit; a success clears it.
    await consume(this.perAccount, account);
  }

  async succeeded(account: string): Promise<void> {
    await this.perAccount.delete(account);
  }
}

async function consume(limiter: RateLimiterMySQL, key: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) throw AccountErrors.tooManyAttempts(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
    throw rejection;
  }
}
