import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

export interface VaultKeys {
  /** Seals everything new. */
  current: { id: string; key: Buffer };
  /** Older keys by id: they only open what they sealed. */
  retired: Record<string, Buffer>;
  /** HMAC key of blind indexes and digests. */
  index: Buffer;
}

/**
 * Personal data is sealed with AES-256-GCM under a key id, bound to its owner (`context`, e.g. the user id) so a
 * sealed value copied to another row does not open. Emails are found through a keyed blind index, never by ciphertext.
 */
export class PersonalDataVault {
  constructor(private readonly keys: VaultKeys) {}

  seal(value: unknown, context: string): string {
    const iv = randomBytes(12);
    const { id, key } = this.keys.current;
    const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return ['v1', id, iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join('.');
  }

  open<T>(sealed: string, context: string): T {
    const [version, keyId, iv, tag, body] = sealed.split('.');
    if (version !== 'v1' || !keyId || !iv || !tag || !body) throw new Error('unknown sealed data format');
    const key = keyId === this.keys.current.id ? this.keys.current.key : this.keys.retired[keyId];
    if (!key) throw new Error(`sealed with key "${keyId}", which is not configured`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64')).setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return JSON.parse(Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8')) as T;
  }

  /** Whether a sealed value uses an older key and should be sealed again. */
  isStale(sealed: string): boolean {
    return sealed.split('.')[1] !== this.keys.current.id;
  }

  emailIndex(email: string): string {
    return this.digest('email', normalizeEmail(email));
  }

  /** A keyed digest for lookups and comparisons that must not reveal the value (purpose keeps uses apart). */
  digest(purpose: string, value: string): string {
    return createHmac('sha256', this.keys.index).update(`${purpose}:${value}`).digest('hex');
  }
}

export const normalizeEmail = (email: string) => email.trim().toLowerCase();
