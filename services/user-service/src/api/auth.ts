import type { Router } from 'express';
import { bearerAuth, JWKS_PATH, principalOf, userOnlyResponses, type Authenticator } from '@flash/auth';
import {
  ApiRoutes, AppError, clientAddress, handle, jsonContent, parseInput, problemResponse, retryLaterResponse, type ApiTag, type Metrics, type OpenAPIRegistry,
} from '@flash/http';
import type { Sessions } from '../domain/sessions';
import type { Keyring } from '../domain/signing-keys';
import { Jwks, LoginBody, RefreshBody, TokenPair } from './schemas';

const AUTH: ApiTag = { name: 'auth', description: 'Log in, refresh and log out; the public keys that verify access tokens' };

export function authRouter(sessions: Sessions, keyring: Keyring, auth: Authenticator, docs: OpenAPIRegistry, metrics: Metrics): Router {
  const logins = metrics.counter('logins_total', 'Login attempts by outcome', ['outcome']);
  const security = bearerAuth(docs);
  return new ApiRoutes(docs, AUTH)
    .post('/api/auth/login', {
      operationId: 'logIn', summary: 'Log in: an access token and a refresh token',
      description:
        'Only verified accounts log in. Only failures count: after 5 failed logins at one account from one address, each further try from that address waits 1, 2, 4 … s (at most 15 minutes), and an address may fail 100 times in 10 minutes; both answer 429 with Retry-After. Other addresses, and the owner on them, are not slowed.',
      request: { body: jsonContent(LoginBody) },
      responses: {
        200: { description: 'Logged in', ...jsonContent(TokenPair) },
        400: problemResponse('VALIDATION_FAILED'),
        401: problemResponse('INVALID_CREDENTIALS'),
        403: problemResponse('EMAIL_NOT_VERIFIED'),
        429: retryLaterResponse('TOO_MANY_ATTEMPTS: wait Retry-After seconds'),
        503: retryLaterResponse('SERVICE_UNAVAILABLE: too many password checks at once'),
      },
    }, handle(async (req, res) => {
      const { email, password } = parseInput(LoginBody, req.body);
      try {
        res.json(await sessions.login(email, password, clientAddress(req)));
        logins.inc({ outcome: 'ok' });
      } catch (err) {
        logins.inc({ outcome: err instanceof AppError ? err.code : 'error' });
        throw err;
      }
    }))
    .post('/api/auth/refresh', {
      operationId: 'refreshTokens', summary: 'Exchange a refresh token for a new pair (rotation)',
      description: 'Each refresh token works once. Presenting a spent one again logs out its whole session.',
      request: { body: jsonContent(RefreshBody) },
      responses: {
        200: { description: 'A new pair; the old refresh token is spent', ...jsonContent(TokenPair) },
        400: problemResponse('VALIDATION_FAILED'),
        401: problemResponse('INVALID_REFRESH_TOKEN, or REFRESH_TOKEN_REUSED (the session is logged out)'),
      },
    }, handle(async (req, res) => {
      res.json(await sessions.refresh(parseInput(RefreshBody, req.body).refreshToken));
    }))
    .post('/api/auth/logout', {
      operationId: 'logOut', summary: 'Log out this session', security,
      description: "The session's access and refresh tokens are refused everywhere within a second.",
      responses: { 204: { description: 'Logged out' }, ...userOnlyResponses },
    }, auth.requireUser, handle(async (_req, res) => {
      await sessions.logout(principalOf(res).sessionId);
      res.status(204).end();
    }))
    .post('/api/auth/logout-all', {
      operationId: 'logOutEverywhere', summary: 'Log out every session of mine', security,
      description: "Every session of the caller's account is logged out, this one included.",
      responses: { 204: { description: 'Every session logged out' }, ...userOnlyResponses },
    }, auth.requireUser, handle(async (_req, res) => {
      await sessions.logoutEverywhere(principalOf(res).userId);
      res.status(204).end();
    }))
    .get(JWKS_PATH, {
      operationId: 'getSigningKeys', summary: 'Public keys that verify access tokens',
      description: 'A JSON Web Key Set (Ed25519). A retired key stays listed until every token it signed has expired.',
      responses: { 200: { description: 'JSON Web Key Set', ...jsonContent(Jwks) } },
    }, handle(async (_req, res) => {
      res.set('cache-control', 'public, max-age=60').json(await keyring.jwks());
    }))
    .router;
}
