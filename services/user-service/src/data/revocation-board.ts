import { announceRevocations } from '@flash/auth';
import type { Dapr } from '@flash/dapr';
import type { RevocationBoard } from '../domain/ports';

/**
 * Announces revoked sessions to every service (the `session-revoked` topic); each keeps its own mark for as long as
 * the longest access token of the session could live (plus a margin), then the mark expires by itself.
 */
export class PubSubRevocationBoard implements RevocationBoard {
  constructor(
    private readonly dapr: Dapr,
    private readonly pubsub: string,
    private readonly accessTokenTtlSeconds: number,
  ) {}

  async announce(sessionIds: string[], reason: string): Promise<void> {
    if (sessionIds.length === 0) return;
    await announceRevocations(this.dapr, this.pubsub, sessionIds, reason, this.accessTokenTtlSeconds + 60);
  }
}
