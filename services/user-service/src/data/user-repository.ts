import { IsNull, type DataSource } from 'typeorm';
import { isDuplicateKey } from '@flash/runtime';
import type { NewCode, UserStore } from '../domain/ports';
import type { CodePurpose, User, VerificationCode } from '../domain/user';
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
        if (code) await tx.getRepository(VerificationCodeEntity).insert({ userId: user.id, purpose: 'verify-email', ...code });
      });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async decideCodes(
    userId: string,
    purpose: CodePurpose,
    decide: (codes: VerificationCode[]) => CodeDecision,
    onVerified?: { passwordHash: string },
  ): Promise<CodeOutcome> {
    return this.db.transaction(async (tx) => {
      const codes = tx.getRepository(VerificationCodeEntity);
      // A new code deletes the earlier ones: at most a few rows are read and locked here.
      const mine = await codes.find({ where: { userId, purpose }, order: { id: 'DESC' }, lock: { mode: 'pessimistic_write' } });
      const decision = decide(mine);
      for (const change of decision.changes) await codes.update({ id: change.id }, change.set);
      if (decision.outcome === 'verified') {
        const at = decision.changes[0]?.set.consumedAt ?? new Date();
        const users = tx.getRepository(UserEntity);
        // An emailed code proves the address, whichever purpose it was sent for.
        await users.update({ id: userId, verifiedAt: IsNull() }, { verifiedAt: at });
        if (onVerified) await users.update({ id: userId }, { passwordHash: onVerified.passwordHash });
      }
      return decision.outcome;
    });
  }

  async replaceCode(userId: string, purpose: CodePurpose, code: NewCode): Promise<void> {
    await this.db.transaction(async (tx) => {
      const codes = tx.getRepository(VerificationCodeEntity);
      await codes.delete({ userId, purpose });
      await codes.insert({ userId, purpose, ...code });
    });
  }

  async updatePersonalData(userId: string, personalData: string): Promise<void> {
    await this.users.update({ id: userId }, { personalData });
  }

  async updatePasswordHash(userId: string, passwordHash: string): Promise<void> {
    await this.users.update({ id: userId }, { passwordHash });
  }
}
