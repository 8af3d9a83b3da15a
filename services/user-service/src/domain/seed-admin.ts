import { randomUUID } from 'node:crypto';
import type { Repository } from 'typeorm';
import { hashPassword } from './passwords';
import type { PersonalDataVault } from './personal-data';
import type { User } from './user';

/** Creates the demo admin once; an existing account with that email is left as it is. */
export async function ensureAdmin(
  users: Repository<User>,
  vault: PersonalDataVault,
  admin: { email: string; password: string },
): Promise<'created' | 'exists'> {
  const emailIndex = vault.emailIndex(admin.email);
  if (await users.existsBy({ emailIndex })) return 'exists';
  await users.insert({
    id: randomUUID(),
    emailIndex,
    personalData: vault.seal({ name: 'Admin', email: admin.email }),
    passwordHash: await hashPassword(admin.password),
    role: 'admin',
    verifiedAt: new Date(),
  });
  return 'created';
}
