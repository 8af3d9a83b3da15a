import { ConcurrencyConflictError, subscription, type Dapr, type StateStore, type Subscription } from '@flash/dapr';
import { SESSION_REVOKED_TOPIC, sessionRevokedSchema, type SessionRevoked } from '@flash/events';
import { REVOKED_SESSIONS_KEY, type RevokedSessions } from './claims';

/** A write that lost a race with another replica's is read again and retried this many times. */
const MAX_ATTEMPTS = 20;

/**
 * Adds `sessionIds` to the service's list of revoked sessions, each kept `ttlSeconds` (until its last access token has
 * expired), and drops the entries whose time is up. Replicas of a service add to the same key: the write carries the
 * ETag of the read, and a lost race reads again.
 */
export async function recordRevocations(store: StateStore<RevokedSessions>, sessionIds: string[], ttlSeconds: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const now = Date.now();
    const entry = await store.get(REVOKED_SESSIONS_KEY);
    const sessions = Object.fromEntries(Object.entries(entry?.value.sessions ?? {}).filter(([, until]) => until > now));
    for (const id of sessionIds) sessions[id] = Math.max(sessions[id] ?? 0, now + ttlSeconds * 1000);
    const keepSeconds = Math.ceil((Math.max(...Object.values(sessions)) - now) / 1000);
    try {
      if (entry) await store.save(REVOKED_SESSIONS_KEY, { sessions }, entry.etag, keepSeconds);
      else await store.create(REVOKED_SESSIONS_KEY, { sessions }, keepSeconds);
      return;
    } catch (err) {
      if (!(err instanceof ConcurrencyConflictError) || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}

/**
 * Every service keeps its own list of revoked sessions, in its own sidecar's key prefix, from user-service's
 * `session-revoked` events: no other app can write or delete the list a service checks tokens against (only
 * user-service may publish the topic, see packages/events/topics.json).
 */
export function revocationSubscription(store: StateStore<RevokedSessions>): Subscription {
  return subscription({
    topic: SESSION_REVOKED_TOPIC,
    deadLetterTopic: `${SESSION_REVOKED_TOPIC}-dead`,
    schema: sessionRevokedSchema,
    handle: ({ data }) => recordRevocations(store, data.sessionIds, data.ttlSeconds),
  });
}

const MAX_SESSIONS_PER_EVENT = 500;

/** user-service's side: announces revoked sessions to every service, in events of at most 500 sessions. */
export async function announceRevocations(dapr: Dapr, pubsub: string, sessionIds: string[], reason: string, ttlSeconds: number): Promise<void> {
  const revokedAt = new Date().toISOString();
  for (let i = 0; i < sessionIds.length; i += MAX_SESSIONS_PER_EVENT) {
    const event: SessionRevoked = { sessionIds: sessionIds.slice(i, i + MAX_SESSIONS_PER_EVENT), revokedAt, reason, ttlSeconds };
    await dapr.publish(pubsub, SESSION_REVOKED_TOPIC, event);
  }
}
