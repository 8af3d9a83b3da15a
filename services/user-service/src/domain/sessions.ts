import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { AccountErrors } from './errors';
import type { PasswordHasher } from './passwords';
import type { PersonalDataVault } from './personal-data';
import type { LoginThrottle, RevocationBoard, SessionStore, UserStore } from './ports';
import type { Keyring } from './signing-keys';
import type { RefreshToken, User } from './user';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Seconds the access token lives. */
  expiresIn: number;
}

export interface SessionsOptions {
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** Wakes the job that writes recent revocation marks again (republishRecentRevocations): a session was revoked. */
  revoked?: () => void;
}

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

/** Login, refresh-token rotation with reuse detection, and logout (one session or all). */
export class Sessions {
  // Compared against when the email is unknown, so a wrong email costs the same time as a wrong password.
  private decoyHash?: Promise<string>;

  constructor(
    private readonly users: UserStore,
    private readonly sessions: SessionStore,
    private readonly board: RevocationBoard,
    private readonly throttle: LoginThrottle,
    private readonly keyring: Keyring,
    private readonly vault: PersonalDataVault,
    private readonly hasher: PasswordHasher,
    private readonly options: SessionsOptions,
  ) {}

  async login(email: string, password: string, client: string): Promise<TokenPair> {
    const emailIndex = this.vault.emailIndex(email);
    const ticket = await this.throttle.admit(client, emailIndex);
    const user = await this.users.byEmailIndex(emailIndex);
    const matches = await this.hasher.verify(password, user?.passwordHash ?? (await this.decoy()));
    if (!user || !matches) {
      await ticket.failed();
      throw AccountErrors.invalidCredentials();
    }
    await ticket.succeeded();
    if (!user.verifiedAt) throw AccountErrors.emailNotVerified();
    // A hash from before today's cost is replaced while the password is at hand.
    if (this.hasher.isOutdated(user.passwordHash)) await this.users.updatePasswordHash(user.id, await this.hasher.hash(password));
    const now = new Date();
    const sessionId = randomUUID();
    const { token, record } = this.newRefreshToken(sessionId, now);
    await this.sessions.open(
      { id: sessionId, userId: user.id, createdAt: now, revokedAt: null, revokedReason: null },
      record,
    );
    return this.pair(user, sessionId, token);
  }

  /** Exchanges a refresh token for a new pair; a token used twice logs its whole session out. */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const now = new Date();
    const found = await this.sessions.findByToken(digest(refreshToken));
    if (!found || found.session.revokedAt || found.token.expiresAt <= now) throw AccountErrors.invalidRefreshToken();
    const { session, token } = found;
    const next = this.newRefreshToken(session.id, now);
    if (token.usedAt || !(await this.sessions.rotate(token.tokenHash, next.record, now))) {
      await this.revoke({ sessionId: session.id }, 'refresh-token-reused');
      throw AccountErrors.refreshTokenReused();
    }
    const user = await this.users.byId(session.userId);
    if (!user) throw AccountErrors.invalidRefreshToken();
    return this.pair(user, session.id, next.token);
  }

  private decoy(): Promise<string> {
    return (this.decoyHash ??= this.hasher.hash(randomUUID()).catch((err: unknown) => {
      this.decoyHash = undefined;
      throw err;
    }));
  }

  async logout(sessionId: string): Promise<void> {
    await this.revoke({ sessionId }, 'logout');
  }

  async logoutEverywhere(userId: string, reason = 'logout-all'): Promise<void> {
    await this.revoke({ userId }, reason);
  }

  /**
   * Writes the marks of every session revoked while its access tokens may still live, again. Redis keeps nothing on
   * disk here: after it restarts, or after an announcement failed halfway, this puts the marks back.
   */
  async republishRecentRevocations(): Promise<number> {
    const since = new Date(Date.now() - this.options.accessTokenTtlSeconds * 1000);
    const revoked = await this.sessions.revokedSince(since);
    for (const reason of new Set(revoked.map((r) => r.reason))) {
      await this.board.announce(revoked.filter((r) => r.reason === reason).map((r) => r.id), reason);
    }
    return revoked.length;
  }

  private async revoke(which: { sessionId: string } | { userId: string }, reason: string): Promise<void> {
    const revoked = await this.sessions.revoke(which, reason, new Date());
    // An earlier attempt may have revoked in the database but failed to announce: announce the asked-for session again.
    const announce = 'sessionId' in which && !revoked.includes(which.sessionId) ? [...revoked, which.sessionId] : revoked;
    this.options.revoked?.();
    await this.board.announce(announce, reason);
  }

  private async pair(user: User, sessionId: string, refreshToken: string): Promise<TokenPair> {
    const ttl = this.options.accessTokenTtlSeconds;
    const accessToken = await this.keyring.sign({ userId: user.id, role: user.role, sessionId }, ttl);
    return { accessToken, refreshToken, tokenType: 'Bearer', expiresIn: ttl };
  }

  private newRefreshToken(sessionId: string, now: Date): { token: string; record: RefreshToken } {
    const token = randomBytes(32).toString('base64url');
    return {
      token,
      record: {
        tokenHash: digest(token),
        sessionId,
        expiresAt: new Date(now.getTime() + this.options.refreshTokenTtlSeconds * 1000),
        usedAt: null,
      },
    };
  }
}
