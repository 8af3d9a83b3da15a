import type { CodeDecision, CodeOutcome } from './verification';
import type { CodePurpose, RefreshToken, Session, User, VerificationCode } from './user';

/** What the account use cases need from storage (implemented in data/). */
export interface UserStore {
  byEmailIndex(emailIndex: string): Promise<User | undefined>;
  byId(id: string): Promise<User | undefined>;
  /** Inserts a user (with their first verification code, together); false when the email is already registered. */
  create(user: Omit<User, 'createdAt'>, code?: NewCode): Promise<boolean>;
  /**
   * Locks the user's codes of one purpose, lets `decide` judge them and applies the decision atomically; a code that
   * verifies marks the email verified and sets `passwordHash` when given (a password reset).
   */
  decideCodes(
    userId: string,
    purpose: CodePurpose,
    decide: (codes: VerificationCode[]) => CodeDecision,
    onVerified?: { passwordHash: string },
  ): Promise<CodeOutcome>;
  /** Deletes the user's earlier codes of the purpose and adds the new one. */
  replaceCode(userId: string, purpose: CodePurpose, code: NewCode): Promise<void>;
  updatePersonalData(userId: string, sealed: string): Promise<void>;
  updatePasswordHash(userId: string, passwordHash: string): Promise<void>;
}

export interface NewCode {
  codeDigest: string;
  expiresAt: Date;
}

export interface SessionStore {
  open(session: Session, token: RefreshToken): Promise<void>;
  findByToken(tokenHash: string): Promise<{ session: Session; token: RefreshToken } | undefined>;
  /** Marks `usedHash` used and adds `next`, only if `usedHash` was still unused; false when it was not. */
  rotate(usedHash: string, next: RefreshToken, now: Date): Promise<boolean>;
  /** Revokes one session or every live session of a user; returns the ids it revoked now. */
  revoke(which: { sessionId: string } | { userId: string }, reason: string, now: Date): Promise<string[]>;
  /** Sessions revoked after `since`, with why. */
  revokedSince(since: Date): Promise<{ id: string; reason: string }[]>;
}

/** Tells every service that sessions are revoked (their access tokens must be refused from now on). */
export interface RevocationBoard {
  announce(sessionIds: string[], reason: string): Promise<void>;
}

/** Slows password guessing per client address (failures only) and per address × account (a growing wait). */
export interface LoginThrottle {
  /** Throws TOO_MANY_ATTEMPTS (with Retry-After) when this try must wait; else the try's outcome is reported on the ticket. */
  admit(client: string, account: string): Promise<LoginTicket>;
}

export interface LoginTicket {
  failed(): Promise<void>;
  /** Clears the failures of this address at this account. */
  succeeded(): Promise<void>;
}

/** A number of actions per key in a window, shared by every replica: `spend` throws TOO_MANY_ATTEMPTS past it. */
export interface Allowance {
  spend(key: string): Promise<void>;
}

export interface Mailer {
  send(message: { to: string; subject: string; text: string }): Promise<void>;
}
