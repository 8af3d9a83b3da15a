import type { CodeDecision, CodeOutcome } from './verification';
import type { RefreshToken, Session, User, VerificationCode } from './user';

/** What the account use cases need from storage (implemented in data/). */
export interface UserStore {
  byEmailIndex(emailIndex: string): Promise<User | undefined>;
  byId(id: string): Promise<User | undefined>;
  /** Inserts a user (with their first verification code, together); false when the email is already registered. */
  create(user: Omit<User, 'createdAt'>, code?: NewCode): Promise<boolean>;
  /** Locks the user's codes, lets `decide` judge them and applies the decision (verifying the user) atomically. */
  decideCodes(userId: string, decide: (codes: VerificationCode[]) => CodeDecision): Promise<CodeOutcome>;
  /** Retires the user's live codes and adds a new one. */
  replaceCode(userId: string, code: NewCode, now: Date): Promise<void>;
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

/** Limits login attempts per client address and failed logins per account. */
export interface LoginThrottle {
  /** Counts an attempt; throws TOO_MANY_ATTEMPTS when the client or the account is over its limit. */
  attempt(client: string, account: string): Promise<void>;
  /** A successful login clears the account's failures. */
  succeeded(account: string): Promise<void>;
}

export interface Mailer {
  send(message: { to: string; subject: string; text: string }): Promise<void>;
}
