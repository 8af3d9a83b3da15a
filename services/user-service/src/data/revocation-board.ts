import { revokedSessionKey, type SessionRevocation } from '@flash/auth';
import type { StateStore } from '@flash/dapr';
import type { RevocationBoard } from '../domain/ports';

/**
 * Marks revoked sessions in the shared Dapr state store, where every service's Authenticator looks. A mark lives as
 * long as the longest access token of the session could (plus a margin), then expires by itself.
 */
export class StateRevocationBoard implements RevocationBoard {
  constructor(
    private readonly store: StateStore<SessionRevocation>,
    private readonly accessTokenTtlSeconds: number,
  ) {}

  async announce(sessionIds: string[], reason: string): Promise<void> {
    const revokedAt = new Date().toISOString();
    await this.store.putMany(
      sessionIds.map((id) => ({ key: revokedSessionKey(id), value: { revokedAt, reason } })),
      this.accessTokenTtlSeconds + 60,
    );
  }
}
