import type { ServiceParts } from '@flash/runtime';
import { SERVICE_NAME, type UserConfig } from './config';
import { UserEntity } from './data/user.entity';
import { CreateUsers1764000000000 } from './data/migrations/1764000000000-CreateUsers';
import { PersonalDataVault } from './domain/personal-data';
import { ensureAdmin } from './domain/seed-admin';

export function userService(config: UserConfig): ServiceParts {
  const vault = new PersonalDataVault(config.PII_ENCRYPTION_KEY, config.BLIND_INDEX_KEY);
  return {
    name: SERVICE_NAME,
    entities: [UserEntity],
    migrations: [CreateUsers1764000000000],
    routes: () => [],
    init: async ({ dataSource, logger }) => {
      if (!config.ADMIN_EMAIL || !config.ADMIN_PASSWORD) return;
      const outcome = await ensureAdmin(dataSource.getRepository(UserEntity), vault, {
        email: config.ADMIN_EMAIL,
        password: config.ADMIN_PASSWORD,
      });
      logger.info({ outcome }, 'demo admin');
    },
  };
}
