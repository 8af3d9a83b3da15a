import { daprAuthenticator } from '@flash/auth';
import { STATESTORE, type ServiceParts } from '@flash/runtime';
import { docsRouter } from './api/docs';
import { productsRouter } from './api/products';
import { SERVICE_NAME, type ProductConfig } from './config';
import { CreateProducts1764200000000 } from './data/migrations/1764200000000-CreateProducts';
import { ProductEntity } from './data/product.entity';
import { ProductRepository } from './data/product-repository';
import { Catalog } from './domain/catalog';

export function productService(config: ProductConfig): ServiceParts {
  return {
    name: SERVICE_NAME,
    entities: [ProductEntity],
    migrations: [CreateProducts1764200000000],
    routes: ({ dataSource, dapr, docs }) => {
      const auth = daprAuthenticator(dapr, STATESTORE);
      return [productsRouter(new Catalog(new ProductRepository(dataSource)), auth, docs), docsRouter(dapr, config.OPENAPI_SOURCES, docs)];
    },
  };
}
