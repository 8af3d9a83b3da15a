import { subscription, type Dapr, type StateStore, type Subscription } from '@flash/dapr';
import { SESSION_REVOKED_TOPIC, sessionRevokedSchema, type SessionRevoked } from '@flash/events';
import { revokedSessionKey, type SessionRevocation } from './claims';

/**
 * Every service keeps its own marks of revoked sessions, in its own sidecar's key prefix, from user-service's
 * `session-revoked` events: no other app can write or delete the marks a service checks tokens against (only
 * user-service may publish the topic, see packages/events/topics.json).
 */
export function revocationSubscription(marks: StateStore<SessionRevocation>): Subscription {
  return subscription({
    topic: SESSION_REVOKED_TOPIC,
    deadLetterTopic: `${SESSION_REVOKED_TOPIC}-dead`,
    schema: sessionRevokedSchema,
    handle: async ({ data }) => {
      const mark = { revokedAt: data.revokedAt, reason: data.reason };
      await marks.putMany(data.sessionIds.map((id) => ({ key: revokedSessionKey(id), value: mark })), data.ttlSeconds);
    },
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
