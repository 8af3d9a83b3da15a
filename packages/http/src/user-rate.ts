import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from './errors';

export interface UserRateLimits {
  /** Actions one user may take on this replica per window. */
  points: number;
  windowSeconds: number;
  /** The problem's code and what is counted, e.g. TOO_MANY_ATTEMPTS / "purchase attempts". */
  code: string;
  what: string;
}

/**
 * A per-user rate on one action, kept in this replica's memory: a hot path must not pay a round trip for it. With N
 * replicas a user gets at most N times the limit, which is still a bound; a user who retries as the API tells them
 * (Retry-After ≥ 1 s) never meets it. There is deliberately no per-address limit here: a crowd behind one NAT shares an
 * address, and address floods are the ingress's job.
 */
export class UserRate {
  private readonly limiter: RateLimiterMemory;

  constructor(private readonly limits: UserRateLimits) {
    this.limiter = new RateLimiterMemory({ keyPrefix: limits.code, points: limits.points, duration: limits.windowSeconds });
  }

  /** Counts one action of the user, or refuses it: 429 with Retry-After. */
  async admit(userId: string): Promise<void> {
    try {
      await this.limiter.consume(userId);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const seconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw new AppError(429, this.limits.code, 'Too many requests', `Too many ${this.limits.what}; try again in ${seconds} s.`, undefined, {
        'retry-after': String(seconds),
      });
    }
  }
}
