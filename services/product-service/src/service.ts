import type { ServiceParts } from '@flash/runtime';
import { docsRouter } from './api/docs';
import { SERVICE_NAME, type ProductConfig } from './config';

export function productService(config: ProductConfig): ServiceParts {
  return {
    name: SERVICE_NAME,
    entities: [],
    migrations: [],
    routes: ({ dapr, docs }) => [docsRouter(dapr, config.OPENAPI_SOURCES, docs)],
  };
}
