import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '@flash/http';

export interface AttemptLimits {
  /** Attempts one user may make on this replica per window. */
  points: number;
  windowSeconds: number;
}

/**
 * A per-user rate on purchase attempts, kept in this replica's memory: the attempt path must not pay a round trip for
 * it. With N replicas a user gets at most N times the limit, which is still a bound; a shopper who retries as the API
 * tells them (Retry-After ≥ 1 s) never meets it. There is deliberately no per-address limit here: a crowd behind one
 * NAT shares an address, and address floods are the ingress's job.
 */
export class AttemptThrottle {
  private readonly limiter: RateLimiterMemory;

  constructor(limits: AttemptLimits) {
    this.limiter = new RateLimiterMemory({ keyPrefix: 'attempts', points: limits.points, duration: limits.windowSeconds });
  }

  async admit(userId: string): Promise<void> {
    try {
      await this.limiter.consume(userId);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const seconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw new AppError(429, 'TOO_MANY_ATTEMPTS', 'Too many attempts', `Too many purchase attempts; try again in ${seconds} s.`, undefined, {
        'retry-after': String(seconds),
      });
    }
  }
}
