import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { Dapr } from '@flash/dapr';
import { AppError } from '@flash/http';
import { SidecarRun } from '@flash/stack';
import { Authenticator, revokedSessionKey, SIGNING_ALGORITHM, TOKEN_AUDIENCE, TOKEN_ISSUER, type SessionRevocation } from '../src';

describe('Authenticator: local verification, revocations from the real state store', () => {
  const run = new SidecarRun();
  let auth: Authenticator;
  let dapr: Dapr;
  let privateKey: KeyLike;

  const token = (claims: { sid?: string; exp?: number; aud?: string; role?: string } = {}) =>
    new SignJWT({ role: claims.role ?? 'customer', sid: claims.sid ?? randomUUID() })
      .setProtectedHeader({ alg: SIGNING_ALGORITHM, kid: 'test-key' })
      .setSubject('user-1')
      .setIssuer(TOKEN_ISSUER)
      .setAudience(claims.aud ?? TOKEN_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(claims.exp ?? '5m')
      .sign(privateKey);

  const refusal = (promise: Promise<unknown>) =>
    promise.then(() => 'accepted', (err: unknown) => (err instanceof AppError ? `${err.status} ${err.code}` : String(err)));

  beforeAll(async () => {
    const pair = await generateKeyPair(SIGNING_ALGORITHM);
    privateKey = pair.privateKey;
    const jwks = createLocalJWKSet({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'test-key', alg: SIGNING_ALGORITHM }] });
    const sidecar = await run.start(`${run.id}-auth`);
    dapr = new Dapr({ httpPort: sidecar.ports.http, apiToken: run.apiToken });
    auth = new Authenticator({ keys: jwks, revocations: dapr.state<SessionRevocation>('statestore') });
  });
  afterAll(() => run.stop());

  it('when a token is valid, then the caller is known by user, role and session', async () => {
    const sid = randomUUID();
    expect(await auth.verify(await token({ sid, role: 'admin' }))).toEqual({ userId: 'user-1', role: 'admin', sessionId: sid });
  });

  it('when a token has expired or is meant for someone else, then it is refused with its own code', async () => {
    expect(await refusal(auth.verify(await token({ exp: Math.floor(Date.now() / 1000) - 5 })))).toBe('401 TOKEN_EXPIRED');
    expect(await refusal(auth.verify(await token({ aud: 'another-audience' })))).toBe('401 INVALID_TOKEN');
  });

  it('when a session is marked revoked after being accepted, then its token is refused within a second', async () => {
    const sid = randomUUID();
    const access = await token({ sid });
    expect(await refusal(auth.verify(access))).toBe('accepted');
    await dapr.state<SessionRevocation>('statestore').putMany([{ key: revokedSessionKey(sid), value: { revokedAt: new Date().toISOString(), reason: 'logout' } }], 60);
    await sleep(300);
    expect(await refusal(auth.verify(access))).toBe('401 SESSION_REVOKED');
  });
});
