import type { VerificationCode } from './user';

export type CodeOutcome = 'verified' | 'invalid' | 'used' | 'expired';

export interface CodeDecision {
  outcome: CodeOutcome;
  /** Changes to apply to the user's codes, by id. */
  changes: { id: number; set: Partial<Pick<VerificationCode, 'consumedAt' | 'replacedAt' | 'failedAttempts'>> }[];
}

/** Wrong guesses a code survives; then it is burned and a new one must be requested. */
export const MAX_FAILED_ATTEMPTS = 5;

export const isLive = (code: VerificationCode, now: Date) =>
  code.consumedAt === null && code.replacedAt === null && code.expiresAt.getTime() > now.getTime();

/** Judges a submitted code against every code the user was sent. */
export function judgeCode(codes: VerificationCode[], digest: string, now: Date): CodeDecision {
  const match = codes.find((c) => c.codeDigest === digest);
  if (!match) {
    const live = codes.find((c) => isLive(c, now));
    if (!live) return { outcome: 'invalid', changes: [] };
    const failedAttempts = live.failedAttempts + 1;
    return {
      outcome: 'invalid',
      changes: [{ id: live.id, set: { failedAttempts, ...(failedAttempts >= MAX_FAILED_ATTEMPTS ? { replacedAt: now } : {}) } }],
    };
  }
  if (match.consumedAt) return { outcome: 'used', changes: [] };
  if (!isLive(match, now)) return { outcome: 'expired', changes: [] };
  return { outcome: 'verified', changes: [{ id: match.id, set: { consumedAt: now } }] };
}
