import { daprAuthenticator, revocationSubscription, type RevokedSessions } from '@flash/auth';
import { oncePerContext, STATESTORE, type ServiceParts } from '@flash/runtime';
import {
  MovementEntity, MySqlStockLedger, ReservationEntity, ShardedCounter, Snapshots, StockKeeper, stockDue, countRebuilds, stockJobs, stockSignals,
  type ShardValue,
} from '@flash/stock';
import { docsRouter } from './api/docs';
import { productsRouter, type ShownProduct } from './api/products';
import { stockRouter } from './api/stock';
import { SERVICE_NAME, type ProductConfig } from './config';
import { CreateProducts1764200000000 } from './data/migrations/1764200000000-CreateProducts';
import { CreateStockLedger1764300000000 } from './data/migrations/1764300000000-CreateStockLedger';
import { ProductEntity } from './data/product.entity';
import { ProductRepository } from './data/product-repository';
import { Catalog } from './domain/catalog';

export function productService(config: ProductConfig): ServiceParts {
  const signals = stockSignals();
  const stockKeeper = oncePerContext((ctx) => {
    const counter = new ShardedCounter(ctx.dapr.state<ShardValue>(STATESTORE), { shards: config.STOCK_SHARDS, prefix: 'stock', replica: config.REPLICA_NAME });
    // The product page is shown from a snapshot (product and free units); what this replica changes, it shows at once.
    const catalog = new Catalog(new ProductRepository(ctx.dataSource));
    const shown = new Snapshots(async (productId): Promise<ShownProduct> => ({ product: await catalog.get(productId), stock: await keeper.available(productId) }), {
      refreshAfterMs: config.STOCK_SNAPSHOT_MS, maxAgeMs: 2 * config.STOCK_SNAPSHOT_MS,
    });
    const keeper = new StockKeeper(counter, new MySqlStockLedger(ctx.dataSource, 'products'), {
      what: 'Product',
      defaultHoldSeconds: config.RESERVATION_HOLD_SECONDS,
      orphanAfterMs: config.STOCK_ORPHAN_AFTER_SECONDS * 1000,
      onChange: (productId) => shown.invalidate(productId),
      due: stockDue(signals),
      onRebuilt: countRebuilds(ctx.metrics),
    });
    return { keeper, catalog, shown };
  });
  return {
    name: SERVICE_NAME,
    entities: [ProductEntity, ReservationEntity, MovementEntity],
    migrations: [CreateProducts1764200000000, CreateStockLedger1764300000000],
    // It verifies tokens: it keeps its own marks of revoked sessions.
    subscriptions: (ctx) => [revocationSubscription(ctx.dapr.state<RevokedSessions>(STATESTORE))],
    routes: (ctx) => {
      const auth = daprAuthenticator(ctx.dapr, STATESTORE);
      const { keeper: stock, catalog, shown } = stockKeeper(ctx);
      return [
        productsRouter(catalog, shown, auth, ctx.docs),
        stockRouter(stock, auth, ctx.docs, ctx.metrics),
        docsRouter(ctx.dapr, config.OPENAPI_SOURCES, ctx.docs),
      ];
    },
    jobs: (ctx) => stockJobs(stockKeeper(ctx).keeper, signals, ctx),
  };
}
