import type { IncomingMessage } from 'node:http';
import type { RequestHandler, Response } from 'express';
import { createLocalJWKSet, decodeJwt, errors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { AppError, problemResponse, type OpenAPIRegistry } from '@flash/http';
import type { Dapr, StateStore } from '@flash/dapr';
import {
  JWKS_PATH, REVOKED_SESSIONS_KEY, SIGNING_ALGORITHM, TOKEN_AUDIENCE, TOKEN_ISSUER, USER_SERVICE,
  type Principal, type RevokedSessions, type Role,
} from './claims';

export interface AuthenticatorOptions {
  /** The public keys, usually `daprJwks(dapr)`. */
  keys: JWTVerifyGetKey;
  /** The state store holding this service's list of revoked sessions (see recordRevocations). */
  revocations: StateStore<RevokedSessions>;
  /**
   * How long a reading of the list is believed without reading it again. Revocation reaches every replica within this
   * time (plus one state read) after the event, so it must stay well under the promised second.
   */
  revocationCacheMs?: number;
}

const unauthenticated = (code: string, detail: string) =>
  new AppError(401, code, 'Unauthenticated', detail, undefined, { 'www-authenticate': `Bearer error="invalid_token"` });

/** One instance for every request without a token (no stack trace captured per refusal). */
const NO_TOKEN = unauthenticated('UNAUTHENTICATED', 'This endpoint needs `Authorization: Bearer <access token>`.');

/** ~1 KB each (the token is the key): a crowd's retries hit it, and it stays ~10 MB at most. */
const MAX_CACHED_TOKENS = 10_000;

/** Verifies access tokens locally (cached JWKS) and refuses tokens of revoked sessions. */
export class Authenticator {
  private readonly keys: JWTVerifyGetKey;
  private readonly revocations: StateStore<RevokedSessions>;
  private readonly cacheMs: number;
  private readonly verified = new Map<string, { principal: Principal; until: number }>();
  /** The list of revoked sessions as last read, and when that read began. */
  private revoked: Record<string, number> = {};
  private readAt = -Infinity;
  private reading?: Promise<void>;

  constructor(options: AuthenticatorOptions) {
    this.keys = options.keys;
    this.revocations = options.revocations;
    this.cacheMs = options.revocationCacheMs ?? 250;
  }

  async verify(token: string): Promise<Principal> {
    const known = this.verified.get(token);
    const principal = known && known.until > Date.now() ? known.principal : await this.checkSignature(token);
    if (Date.now() - this.readAt >= this.cacheMs) await this.readRevocations();
    if ((this.revoked[principal.sessionId] ?? 0) > Date.now()) {
      throw unauthenticated('SESSION_REVOKED', 'This session has been logged out.');
    }
    return principal;
  }

  /**
   * The signature check, remembered per token until it expires: a shopper retrying a sold-out sale sends the same token
   * again and again, and a signature check costs more than the rest of the refusal. Revocation is checked every time.
   */
  private async checkSignature(token: string): Promise<Principal> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        algorithms: [SIGNING_ALGORITHM],
        requiredClaims: ['sub', 'sid', 'role', 'exp'],
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw unauthenticated('TOKEN_EXPIRED', 'The access token has expired; refresh it.');
      if (err instanceof errors.JOSEError) throw unauthenticated('INVALID_TOKEN', 'The access token is not valid.');
      throw err;
    }
    const principal: Principal = { userId: String(payload.sub), role: payload.role as Role, sessionId: String(payload.sid) };
    // The oldest entry goes first (a Map keeps insertion order).
    if (this.verified.size >= MAX_CACHED_TOKENS) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { principal, until: payload.exp! * 1000 });
    return principal;
  }

  /** The caller of a request with a valid bearer token, else 401 (for lean routes; express routes use requireUser). */
  principal(req: IncomingMessage): Promise<Principal> {
    const [scheme, token] = (req.headers.authorization ?? '').split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token) return Promise.reject(NO_TOKEN);
    return this.verify(token);
  }

  /**
   * Who the bearer token says the caller is, read without checking its signature or expiry (undefined: no readable
   * token). Only for an answer that would be the same for whoever sent it (a sale that is sold out, see
   * purchasesRouter): an Ed25519 check costs more than the rest of such a refusal. Everything else takes principal().
   */
  claimedUser(req: IncomingMessage): string | undefined {
    const [scheme, token] = (req.headers.authorization ?? '').split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token) return undefined;
    try {
      const { sub } = decodeJwt(token);
      return typeof sub === 'string' ? sub : undefined;
    } catch {
      return undefined;
    }
  }

  /** Express middleware: a valid bearer token or 401; the caller is then `principalOf(res)`. */
  readonly requireUser: RequestHandler = (req, res, next) => {
    this.principal(req).then((principal) => {
      res.locals.principal = principal;
      next();
    }, next);
  };

  /** Express middleware: a valid bearer token of an admin, else 401/403. */
  readonly requireAdmin: RequestHandler = (req, res, next) => {
    this.requireUser(req, res, (err?: unknown) => {
      if (err) return next(err);
      if (principalOf(res).role !== 'admin') return next(new AppError(403, 'FORBIDDEN', 'Forbidden', 'Only admins may do this.'));
      next();
    });
  };

  /**
   * One read of the list for every request that finds the last reading too old: a crowd costs a state read every
   * `cacheMs`, not one per request or per session; a quiet service reads nothing until it is asked again.
   */
  private readRevocations(): Promise<void> {
    this.reading ??= (async () => {
      const began = Date.now();
      try {
        this.revoked = (await this.revocations.get(REVOKED_SESSIONS_KEY))?.value.sessions ?? {};
        this.readAt = began;
      } catch {
        throw AppError.unavailable('Sessions cannot be checked right now; try again shortly.');
      }
    })().finally(() => (this.reading = undefined));
    return this.reading;
  }
}

/** The authenticated caller, set by `requireUser`/`requireAdmin`. */
export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) throw new Error('principalOf used on a route without requireUser');
  return principal;
}

const JWKS_MAX_AGE_MS = 10 * 60_000;
const JWKS_REFETCH_COOLDOWN_MS = 1000;

/**
 * user-service's public keys, fetched through this service's sidecar (Dapr invocation) and cached for 10 minutes.
 * A token with an unknown `kid` (a rotated key) triggers a refetch, at most once a second.
 */
export function daprJwks(dapr: Dapr): JWTVerifyGetKey {
  let keys: JWTVerifyGetKey | undefined;
  let fetchedAt = 0;
  let fetching: Promise<JWTVerifyGetKey> | undefined;
  const refetch = () =>
    (fetching ??= dapr
      .invoke<JSONWebKeySet>(USER_SERVICE, JWKS_PATH)
      .then((jwks) => {
        keys = createLocalJWKSet(jwks);
        fetchedAt = Date.now();
        return keys;
      })
      .finally(() => (fetching = undefined)));
  return async (header, token) => {
    const current = keys && Date.now() - fetchedAt < JWKS_MAX_AGE_MS ? keys : await refetch();
    try {
      return await current(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || Date.now() - fetchedAt < JWKS_REFETCH_COOLDOWN_MS) throw err;
      return (await refetch())(header, token);
    }
  };
}

/** The usual wiring: keys from user-service through Dapr, revocations from the service's own state. */
export function daprAuthenticator(dapr: Dapr, stateStore: string): Authenticator {
  return new Authenticator({ keys: daprJwks(dapr), revocations: dapr.state<RevokedSessions>(stateStore) });
}

/** Declares the bearer scheme in a service's OpenAPI document; use the returned value as an operation's `security`. */
export function bearerAuth(docs: OpenAPIRegistry): { bearer: string[] }[] {
  docs.registerComponent('securitySchemes', 'bearer', {
    type: 'http', scheme: 'bearer', bearerFormat: 'JWT',
    description: 'The `accessToken` from `POST /api/auth/login` (or `/api/auth/refresh`), valid for minutes.',
  });
  return [{ bearer: [] }];
}

/** The documented refusals of an operation behind `requireUser`. */
export const userOnlyResponses = {
  401: problemResponse('UNAUTHENTICATED (no token), INVALID_TOKEN, TOKEN_EXPIRED or SESSION_REVOKED'),
};

/** The documented refusals of an operation behind `requireAdmin`. */
export const adminOnlyResponses = { ...userOnlyResponses, 403: problemResponse('FORBIDDEN: not an admin') };
