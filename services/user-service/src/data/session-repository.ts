import { In, IsNull, MoreThan, type DataSource } from 'typeorm';
import type { SessionStore } from '../domain/ports';
import type { RefreshToken, Session } from '../domain/user';
import { RefreshTokenEntity, SessionEntity } from './account.entities';

export class SessionRepository implements SessionStore {
  constructor(private readonly db: DataSource) {}

  async open(session: Session, token: RefreshToken): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.getRepository(SessionEntity).insert(session);
      await tx.getRepository(RefreshTokenEntity).insert(token);
    });
  }

  async findByToken(tokenHash: string): Promise<{ session: Session; token: RefreshToken } | undefined> {
    const token = await this.db.getRepository(RefreshTokenEntity).findOneBy({ tokenHash });
    if (!token) return undefined;
    const session = await this.db.getRepository(SessionEntity).findOneBy({ id: token.sessionId });
    return session ? { session, token } : undefined;
  }

  async rotate(usedHash: string, next: RefreshToken, now: Date): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const tokens = tx.getRepository(RefreshTokenEntity);
      // The conditional update is the race guard: of two refreshes with one token, exactly one marks it used.
      const { affected } = await tokens.update({ tokenHash: usedHash, usedAt: IsNull() }, { usedAt: now });
      if (affected !== 1) return false;
      await tokens.insert(next);
      return true;
    });
  }

  async revoke(which: { sessionId: string } | { userId: string }, reason: string, now: Date): Promise<string[]> {
    return this.db.transaction(async (tx) => {
      const sessions = tx.getRepository(SessionEntity);
      const where = 'sessionId' in which ? { id: which.sessionId, revokedAt: IsNull() } : { userId: which.userId, revokedAt: IsNull() };
      const live = await sessions.find({ where, select: { id: true }, lock: { mode: 'pessimistic_write' } });
      const ids = live.map((s) => s.id);
      if (ids.length) await sessions.update({ id: In(ids) }, { revokedAt: now, revokedReason: reason });
      return ids;
    });
  }

  async revokedSince(since: Date): Promise<{ id: string; reason: string }[]> {
    const sessions = await this.db.getRepository(SessionEntity).find({
      where: { revokedAt: MoreThan(since) },
      select: { id: true, revokedReason: true },
    });
    return sessions.map((s) => ({ id: s.id, reason: s.revokedReason ?? 'logout' }));
  }
}
