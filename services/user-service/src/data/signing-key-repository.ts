import { IsNull, MoreThan, Not, type DataSource } from 'typeorm';
import type { SigningKeyStore } from '../domain/signing-keys';
import type { SigningKey } from '../domain/user';
import { SigningKeyEntity } from './account.entities';

export class SigningKeyRepository implements SigningKeyStore {
  constructor(private readonly db: DataSource) {}

  async published(since: Date): Promise<SigningKey[]> {
    return this.db.getRepository(SigningKeyEntity).find({
      where: [{ retiredAt: IsNull() }, { retiredAt: MoreThan(since) }],
      order: { createdAt: 'DESC' },
    });
  }

  async addAndRetireOthers(key: SigningKey): Promise<void> {
    await this.db.transaction(async (tx) => {
      const keys = tx.getRepository(SigningKeyEntity);
      await keys.update({ retiredAt: IsNull(), kid: Not(key.kid) }, { retiredAt: key.createdAt });
      await keys.insert(key);
    });
  }
}
