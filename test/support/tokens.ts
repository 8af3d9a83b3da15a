import { randomUUID } from 'node:crypto';
import type { Role } from '@flash/auth';
import { readConfig } from '../../services/user-service/src/config';
import { personalDataVault, signingKeyring } from '../../services/user-service/src/service';
import type { TestStack } from './stack';

/**
 * Access tokens signed with the stack's real user-service key, for crowds of buyers a test would otherwise have to
 * sign up one by one. Each call is a new session.
 */
export function tokenMinter(stack: TestStack): (userId?: string, role?: Role) => Promise<string> {
  const user = stack.service('user-service');
  const config = readConfig(user.env);
  const keyring = signingKeyring(config, user.service.dataSource, personalDataVault(config));
  return (userId = randomUUID(), role = 'customer') => keyring.sign({ userId, role, sessionId: randomUUID() }, 600);
}
