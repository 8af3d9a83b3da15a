import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type KeyLike } from 'jose';
import { SIGNING_ALGORITHM, TOKEN_AUDIENCE, TOKEN_ISSUER, type Principal } from '@flash/auth';
import type { PersonalDataVault } from './personal-data';
import type { SigningKey } from './user';

export interface SigningKeyStore {
  /** Keys not retired, or retired after `since`, newest first. */
  published(since: Date): Promise<SigningKey[]>;
  /** Adds a key and retires every other one, at once. */
  addAndRetireOthers(key: SigningKey): Promise<void>;
}

export interface KeyringOptions {
  /** How long a retired key stays in the JWKS: longer than any token it signed lives. */
  retiredKeyGraceMs: number;
  /** How often a replica looks for a key another replica rotated in. */
  reloadMs?: number;
}

/**
 * The access-token signing keys (Ed25519). The newest key signs; retired keys stay published until every token they
 * signed has expired, so a rotation logs nobody out.
 */
export class Keyring {
  private loaded?: { at: number; keys: SigningKey[]; signer: { kid: string; key: KeyLike } };

  constructor(
    private readonly store: SigningKeyStore,
    private readonly vault: PersonalDataVault,
    private readonly options: KeyringOptions,
  ) {}

  /** Starts signing with a new key; returns its kid. */
  async rotate(): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALGORITHM, { extractable: true });
    const kid = `${new Date().toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}`;
    await this.store.addAndRetireOthers({
      kid,
      publicJwk: JSON.stringify({ ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALGORITHM, use: 'sig' }),
      privateJwk: this.vault.seal(await exportJWK(privateKey), `signing-key:${kid}`),
      createdAt: new Date(),
      retiredAt: null,
    });
    this.loaded = undefined;
    return kid;
  }

  async jwks(): Promise<{ keys: JWK[] }> {
    const { keys } = await this.load();
    return { keys: keys.map((k) => JSON.parse(k.publicJwk) as JWK) };
  }

  async sign(principal: Principal, ttlSeconds: number): Promise<string> {
    const { signer } = await this.load();
    return new SignJWT({ role: principal.role, sid: principal.sessionId })
      .setProtectedHeader({ alg: SIGNING_ALGORITHM, kid: signer.kid, typ: 'at+jwt' })
      .setSubject(principal.userId)
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .setJti(randomUUID())
      .sign(signer.key);
  }

  private async load() {
    const reloadMs = this.options.reloadMs ?? 30_000;
    if (this.loaded && Date.now() - this.loaded.at < reloadMs) return this.loaded;
    let keys = await this.store.published(new Date(Date.now() - this.options.retiredKeyGraceMs));
    if (keys.length === 0) {
      // The very first start: whichever replica gets here first makes the first key.
      await this.rotate();
      keys = await this.store.published(new Date(Date.now() - this.options.retiredKeyGraceMs));
    }
    const newest = keys.find((k) => k.retiredAt === null) ?? keys[0]!;
    const jwk = this.vault.open<JWK>(newest.privateJwk, `signing-key:${newest.kid}`);
    this.loaded = { at: Date.now(), keys, signer: { kid: newest.kid, key: (await importJWK(jwk, SIGNING_ALGORITHM)) as KeyLike } };
    return this.loaded;
  }
}
