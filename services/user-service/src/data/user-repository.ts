import { IsNull, type DataSource } from 'typeorm';
import { isDuplicateKey } from '@flash/runtime';
import type { NewCode, UserStore } from '../domain/ports';
import type { User, VerificationCode } from '../domain/user';
import type { CodeDecision, CodeOutcome } from '../domain/verification';
import { VerificationCodeEntity } from './account.entities';
import { UserEntity } from './user.entity';

export class UserRepository implements UserStore {
  constructor(private readonly db: DataSource) {}

  private get users() {
    return this.db.getRepository(UserEntity);
  }

  async byEmailIndex(emailIndex: string): Promise<User | undefined> {
    return (await this.users.findOneBy({ emailIndex })) ?? undefined;
  }

  async byId(id: string): Promise<User | undefined> {
    return (await this.users.findOneBy({ id })) ?? undefined;
  }

  async create(user: Omit<User, 'createdAt'>, code?: NewCode): Promise<boolean> {
    try {
      await this.db.transaction(async (tx) => {
        await tx.getRepository(UserEntity).insert(user);
        if (code) await tx.getRepository(VerificationCodeEntity).insert({ userId: user.id, ...code });
      });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async decideCodes(userId: string, decide: (codes: VerificationCode[]) => CodeDecision): Promise<CodeOutcome> {
    return this.db.transaction(async (tx) => {
      const codes = tx.getRepository(VerificationCodeEntity);
      const mine = await codes.find({ where: { userId }, order: { id: 'DESC' }, lock: { mode: 'pessimistic_write' } });
      const decision = decide(mine);
      for (const change of decision.changes) await codes.update({ id: change.id }, change.set);
      if (decision.outcome === 'verified') {
        const verifiedAt = decision.changes[0]?.set.consumedAt ?? new Date();
        await tx.getRepository(UserEntity).update({ id: userId, verifiedAt: IsNull() }, { verifiedAt });
      }
      return decision.outcome;
    });
  }

  async replaceCode(userId: string, code: NewCode, now: Date): Promise<void> {
    await this.db.transaction(async (tx) => {
      const codes = tx.getRepository(VerificationCodeEntity);
      await codes.update({ userId, consumedAt: IsNull(), replacedAt: IsNull() }, { replacedAt: now });
      await codes.insert({ userId, ...code });
    });
  }

  async updatePersonalData(userId: string, personalData: string): Promise<void> {
    await this.users.update({ id: userId }, { personalData });
  }

  async updatePasswordHash(userId: string, passwordHash: string): Promise<void> {
    await this.users.update({ id: userId }, { passwordHash });
  }
}
