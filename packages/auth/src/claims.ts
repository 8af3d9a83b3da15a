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

/** A revoked session's mark in the shared state store, kept until every access token of the session has expired. */
export interface SessionRevocation {
  revokedAt: string;
  reason: string;
}

export const revokedSessionKey = (sessionId: string) => `session-revoked-${sessionId}`;
