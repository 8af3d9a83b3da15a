import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { Dapr } from '@flash/dapr';
import { AppError } from '@flash/http';
import { SidecarRun } from '@flash/stack';
import {
  Authenticator, recordRevocations, REVOKED_SESSIONS_KEY, SIGNING_ALGORITHM, TOKEN_AUDIENCE, TOKEN_ISSUER, type RevokedSessions,
} from '../src';

describe('Authenticator: local verification, revocations from the real state store', () => {
  const run = new SidecarRun();
  let auth: Authenticator;
  let dapr: Dapr;
  let privateKey: KeyLike;
  let jwks: ReturnType<typeof createLocalJWKSet>;
  let sidecarPort: number;

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
    jwks = createLocalJWKSet({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'test-key', alg: SIGNING_ALGORITHM }] });
    const sidecar = await run.start(`${run.id}-auth`);
    sidecarPort = sidecar.ports.http;
    dapr = new Dapr({ httpPort: sidecarPort, apiToken: run.apiToken });
    auth = new Authenticator({ keys: jwks, revocations: dapr.state<RevokedSessions>('statestore') });
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
    await recordRevocations(dapr.state<RevokedSessions>('statestore'), [sid], 60);
    await sleep(300);
    expect(await refusal(auth.verify(access))).toBe('401 SESSION_REVOKED');
  });

  it('when replicas record revocations at the same moment, then every session is on the list, and one whose time is up drops off', async () => {
    const store = dapr.state<RevokedSessions>('statestore');
    const shortLived = randomUUID();
    await recordRevocations(store, [shortLived], 1);
    const sessions = Array.from({ length: 12 }, () => randomUUID());
    // Each its own client, as the replicas of a service are.
    await Promise.all(sessions.map((sid) => recordRevocations(new Dapr({ httpPort: sidecarPort, apiToken: run.apiToken }).state<RevokedSessions>('statestore'), [sid], 60)));
    const listed = Object.keys((await store.get(REVOKED_SESSIONS_KEY))!.value.sessions);
    expect(listed).toEqual(expect.arrayContaining([...sessions, shortLived]));
    await sleep(1100);
    await recordRevocations(store, [randomUUID()], 60);
    expect(Object.keys((await store.get(REVOKED_SESSIONS_KEY))!.value.sessions)).not.toContain(shortLived);
    for (const sid of sessions) expect(await refusal(auth.verify(await token({ sid })))).toBe('401 SESSION_REVOKED');
  });

  it('when no request comes, then the list is not read; a crowd of requests shares one read', async () => {
    const store = dapr.state<RevokedSessions>('statestore');
    let reads = 0;
    const counted = Object.assign(Object.create(store) as typeof store, { get: (key: string) => (reads++, store.get(key)) });
    const quiet = new Authenticator({ keys: jwks, revocations: counted });
    await sleep(400);
    expect(reads).toBe(0);
    const tokens = await Promise.all(Array.from({ length: 50 }, () => token()));
    expect(new Set(await Promise.all(tokens.map((t) => refusal(quiet.verify(t)))))).toEqual(new Set(['accepted']));
    expect(reads).toBe(1);
  });
});
