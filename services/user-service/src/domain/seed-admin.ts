import { randomUUID } from 'node:crypto';
import type { PasswordHasher } from './passwords';
import type { PersonalDataVault } from './personal-data';
import type { UserStore } from './ports';

/** Creates the configured admin once; an existing account with that email is left as it is. */
export async function ensureAdmin(
  users: UserStore,
  vault: PersonalDataVault,
  admin: { email: string; password: string },
  hasher: PasswordHasher,
): Promise<'created' | 'exists'> {
  const emailIndex = vault.emailIndex(admin.email);
  if (await users.byEmailIndex(emailIndex)) return 'exists';
  const id = randomUUID();
  const created = await users.create({
    id,
    emailIndex,
    personalData: vault.seal({ name: 'Admin', email: admin.email }, id),
    passwordHash: await hasher.hash(admin.password),
    role: 'admin',
    verifiedAt: new Date(),
  });
  return created ? 'created' : 'exists';
}
