import type { RateLimiterMySQL } from 'rate-limiter-flexible';
import type { DataSource } from 'typeorm';
import { AccountErrors } from '../domain/errors';
import type { LoginThrottle, LoginTicket } from '../domain/ports';
import { mysqlLimiter, secondsUntil } from './rate-limits';

export interface LoginLimits {
  /** Failed logins one client address may make per window (successes never count). */
  failuresPerClient: number;
  clientWindowSeconds: number;
  /** Failures an address may make at one account before each further try waits 1, 2, 4 … s. */
  freeFailures: number;
  /** How long failures of an address at an account are remembered. */
  failureWindowSeconds: number;
  /** The longest wait between tries of one address at one account. */
  maxDelaySeconds: number;
}

/** Longer than any password check: a claimed try slot frees itself after this even if its request died. */
const TRY_SLOT_SECONDS = 60;

/**
 * Password guessing is slowed where it happens, per client address and per address × account: a crowd behind one
 * address logs in freely (only failures count), and a stranger's failures never delay the owner at another address.
 */
export class MySqlLoginThrottle implements LoginThrottle {
  private readonly clientFailures: RateLimiterMySQL;
  private readonly pairFailures: RateLimiterMySQL;
  private readonly pairWait: RateLimiterMySQL;
  private readonly trySlots = new Map<number, RateLimiterMySQL>();

  constructor(
    private readonly db: DataSource,
    private readonly limits: LoginLimits,
  ) {
    this.clientFailures = mysqlLimiter(db, 'login-client', limits.failuresPerClient, limits.clientWindowSeconds);
    this.pairFailures = mysqlLimiter(db, 'login-pair', Number.MAX_SAFE_INTEGER, limits.failureWindowSeconds);
    this.pairWait = mysqlLimiter(db, 'login-wait', 1, limits.failureWindowSeconds);
  }

  async admit(client: string, account: string): Promise<LoginTicket> {
    const pair = `${client}|${account}`;
    const [byClient, byPair, wait] = await Promise.all([this.clientFailures.get(client), this.pairFailures.get(pair), this.pairWait.get(pair)]);
    if (byClient && byClient.consumedPoints >= this.limits.failuresPerClient) throw AccountErrors.tooManyAttempts(secondsUntil(byClient));
    if (wait && wait.consumedPoints > 1) throw AccountErrors.tooManyAttempts(secondsUntil(wait));
    const failures = byPair?.consumedPoints ?? 0;
    // Concurrent tries would all read the same count: each count has a few slots (one once waits apply), taken atomically.
    try {
      await this.trySlot(Math.max(1, this.limits.freeFailures - failures)).consume(`${pair}|${failures}`);
    } catch {
      throw AccountErrors.tooManyAttempts(1);
    }
    return {
      failed: async () => {
        // The wait is set before the count moves on, so a try that reads the new count also sees the wait.
        if (failures + 1 >= this.limits.freeFailures) await this.pairWait.block(pair, this.delaySeconds(failures + 1));
        const [counted] = await Promise.all([this.pairFailures.penalty(pair), this.clientFailures.penalty(client)]);
        if (counted.consumedPoints > failures + 1 && counted.consumedPoints >= this.limits.freeFailures) {
          await this.pairWait.block(pair, this.delaySeconds(counted.consumedPoints));
        }
      },
      succeeded: async () => {
        const slots = Array.from({ length: failures + 1 }, (_, n) => this.trySlot(1).delete(`${pair}|${n}`));
        await Promise.all([this.pairFailures.delete(pair), this.pairWait.delete(pair), ...slots]);
      },
    };
  }

  private delaySeconds(failures: number): number {
    return Math.min(this.limits.maxDelaySeconds, 2 ** Math.min(30, failures - this.limits.freeFailures));
  }

  private trySlot(points: number): RateLimiterMySQL {
    let limiter = this.trySlots.get(points);
    if (!limiter) this.trySlots.set(points, (limiter = mysqlLimiter(this.db, 'login-try', points, TRY_SLOT_SECONDS)));
    return limiter;
  }
}
