/** What every service agrees on about access tokens; user-service issues them, every service verifies them. */
export const TOKEN_ISSUER = 'flash-sale/user-service';
export const TOKEN_AUDIENCE = 'flash-sale';
export const SIGNING_ALGORITHM = 'EdDSA';
export const USER_SERVICE = 'user-service';
export const JWKS_PATH = '/api/auth/jwks';

export type Role = 'customer' | 'admin';

/** The caller of an authenticated request. */
export interface Principal {
  userId: string;
  role: Role;
  sessionId: string;
}

/**
 * The sessions a service knows to be revoked, one key in its own state (`REVOKED_SESSIONS_KEY`): each session id with
 * the time (ms) until which its access tokens could still be presented. Entries past that time are dropped at the next
 * write, and the key expires with its last entry.
 */
export interface RevokedSessions {
  sessions: Record<string, number>;
}

export const REVOKED_SESSIONS_KEY = 'revoked-sessions';
