import { Router } from 'express';
import { bearerAuth, JWKS_PATH, principalOf, type Authenticator } from '@flash/auth';
import { AppError, handle, jsonContent, parseInput, problemResponse, type Metrics, type OpenAPIRegistry } from '@flash/http';
import type { Sessions } from '../domain/sessions';
import type { Keyring } from '../domain/signing-keys';
import { Jwks, LoginBody, RefreshBody, TokenPair } from './schemas';

export function authRouter(sessions: Sessions, keyring: Keyring, auth: Authenticator, docs: OpenAPIRegistry, metrics: Metrics): Router {
  const logins = metrics.counter('logins_total', 'Login attempts by outcome', ['outcome']);
  const security = bearerAuth(docs);
  const tags = ['auth'];
  const tooMany = problemResponse('TOO_MANY_ATTEMPTS, with Retry-After');
  docs.registerPath({
    method: 'post', path: '/api/auth/login', tags, summary: 'Log in: an access token and a refresh token',
    request: { body: jsonContent(LoginBody) },
    responses: {
      200: { description: 'Logged in', ...jsonContent(TokenPair) },
      400: problemResponse('VALIDATION_FAILED'),
      401: problemResponse('INVALID_CREDENTIALS'),
      403: problemResponse('EMAIL_NOT_VERIFIED'),
      429: tooMany,
    },
  });
  docs.registerPath({
    method: 'post', path: '/api/auth/refresh', tags, summary: 'Exchange a refresh token for a new pair (rotation)',
    request: { body: jsonContent(RefreshBody) },
    responses: {
      200: { description: 'A new pair; the old refresh token is spent', ...jsonContent(TokenPair) },
      401: problemResponse('INVALID_REFRESH_TOKEN, or REFRESH_TOKEN_REUSED (the session is logged out)'),
    },
  });
  docs.registerPath({
    method: 'post', path: '/api/auth/logout', tags, summary: 'Log out this session', security,
    responses: { 204: { description: 'Logged out; its tokens are refused everywhere within a second' }, 401: problemResponse('not logged in') },
  });
  docs.registerPath({
    method: 'post', path: '/api/auth/logout-all', tags, summary: 'Log out every session of mine', security,
    responses: { 204: { description: 'Every session logged out' }, 401: problemResponse('not logged in') },
  });
  docs.registerPath({
    method: 'get', path: JWKS_PATH, tags, summary: 'Public keys that verify access tokens',
    responses: { 200: { description: 'JSON Web Key Set', ...jsonContent(Jwks) } },
  });

  const router = Router();
  router.post('/api/auth/login', handle(async (req, res) => {
    const { email, password } = parseInput(LoginBody, req.body);
    try {
      res.json(await sessions.login(email, password, req.ip ?? 'unknown'));
      logins.inc({ outcome: 'ok' });
    } catch (err) {
      logins.inc({ outcome: err instanceof AppError ? err.code : 'error' });
      throw err;
    }
  }));
  router.post('/api/auth/refresh', handle(async (req, res) => {
    res.json(await sessions.refresh(parseInput(RefreshBody, req.body).refreshToken));
  }));
  router.post('/api/auth/logout', auth.requireUser, handle(async (_req, res) => {
    await sessions.logout(principalOf(res).sessionId);
    res.status(204).end();
  }));
  router.post('/api/auth/logout-all', auth.requireUser, handle(async (_req, res) => {
    await sessions.logoutEverywhere(principalOf(res).userId);
    res.status(204).end();
  }));
  router.get(JWKS_PATH, handle(async (_req, res) => {
    res.set('cache-control', 'public, max-age=60').json(await keyring.jwks());
  }));
  return router;
}
