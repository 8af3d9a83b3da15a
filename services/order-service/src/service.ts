import type { ServiceParts } from '@flash/runtime';
import { SERVICE_NAME } from './config';

export function orderService(): ServiceParts {
  return { name: SERVICE_NAME, entities: [], migrations: [], routes: () => [] };
}
