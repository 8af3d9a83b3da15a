import { daprAuthenticator, revocationSubscription, type RevokedSessions } from '@flash/auth';
import { DueSignal, oncePerContext, OutboxEntity, OutboxRelay, PUBSUB, STATESTORE, type ServiceContext, type ServiceParts } from '@flash/runtime';
import { UserRate, type Metrics } from '@flash/http';
import { paymentsFrom } from '@flash/payments';
import {
  MovementEntity, MySqlStockLedger, ReservationEntity, ShardedCounter, Snapshots, StockKeeper, stockDue, countRebuilds, stockJobs, stockSignals,
  type ShardValue,
} from '@flash/stock';
import { flashSalesRouter } from './api/flash-sales';
import { purchasesRouter } from './api/purchases';
import { SERVICE_NAME, type PurchaseConfig } from './config';
import { FlashSaleEntity, PurchaseEntity, PurchaseTransitionEntity } from './data/entities';
import { CreateFlashSales1764400000000 } from './data/migrations/1764400000000-CreateFlashSales';
import { LimitSlots1764500000000 } from './data/migrations/1764500000000-LimitSlots';
import { UnpaidPurchaseRetention1764800000000 } from './data/migrations/1764800000000-UnpaidPurchaseRetention';
import { OrderChecks1764900000000 } from './data/migrations/1764900000000-OrderChecks';
import { PurchaseRepository } from './data/purchase-repository';
import { SaleRepository } from './data/sale-repository';
import { FlashSales } from './domain/flash-sales';
import { OrderChecks } from './domain/order-checks';
import type { OrderBook, ProductCatalog } from './domain/ports';
import { Purchasing } from './domain/purchasing';
import { HoldBatches, type BatchObserver } from './domain/hold-batches';
import { purgeUnpaidPurchases } from './domain/retention';
import { SaleBoard } from './domain/sale-board';

export function purchaseService(config: PurchaseConfig): ServiceParts {
  const parts = oncePerContext((ctx) => assemble(config, ctx));
  return {
    name: SERVICE_NAME,
    entities: [FlashSaleEntity, PurchaseEntity, PurchaseTransitionEntity, OutboxEntity, ReservationEntity, MovementEntity],
    migrations: [CreateFlashSales1764400000000, LimitSlots1764500000000, UnpaidPurchaseRetention1764800000000, OrderChecks1764900000000],
    // It verifies tokens: it keeps its own marks of revoked sessions.
    subscriptions: (ctx) => [revocationSubscription(ctx.dapr.state<RevokedSessions>(STATESTORE))],
    routes: (ctx) => {
      const { sales, purchasing } = parts(ctx);
      const auth = daprAuthenticator(ctx.dapr, STATESTORE);
      return [
        flashSalesRouter(sales, auth, ctx.docs),
        purchasesRouter(purchasing, auth, ctx.docs, ctx.metrics, new UserRate({
          points: config.PURCHASE_ATTEMPTS_PER_USER, windowSeconds: config.PURCHASE_ATTEMPT_WINDOW_SECONDS, code: 'TOO_MANY_ATTEMPTS', what: 'purchase attempts',
        })),
      ];
    },
    jobs: (ctx) => {
      const { purchasing, purchases, stock, outbox, due, orderChecks } = parts(ctx);
      const resent = ctx.metrics.counter('purchase_paid_resent_total', 'purchase-paid events sent again: the paid purchase had no order when it was checked');
      const expired = ctx.metrics.counter('holds_expired_total', 'Held purchases expired, their units returned');
      return [
        outbox.job(),
        {
          name: 'hold expiry', signal: due.holds,
          run: async () => {
            const run = await purchasing.expireHolds();
            expired.inc(run.expired);
            return run.dueInMs;
          },
        },
        ...stockJobs(stock, due, ctx),
        {
          name: 'order checks', signal: due.orders,
          run: async () => {
            const run = await orderChecks.checkDue();
            if (run.resent) ctx.logger.warn({ resent: run.resent }, 'paid purchases without their order: events sent again');
            resent.inc(run.resent);
            return run.dueInMs;
          },
        },
        {
          name: 'unpaid purchase retention',
          // It knows the next due purchase from the table; the re-check only finds ones ended since an empty look.
          recheckMs: Math.min(3600_000, config.UNPAID_PURCHASE_RETENTION_SECONDS * 1000),
          run: async () => (await purgeUnpaidPurchases(purchases, config.UNPAID_PURCHASE_RETENTION_SECONDS * 1000)).dueInMs,
        },
      ];
    },
  };
}

function assemble(config: PurchaseConfig, { dataSource, dapr, logger, metrics }: ServiceContext) {
  const due = { holds: new DueSignal(), orders: new DueSignal(), ...stockSignals() };
  const counter = new ShardedCounter(dapr.state<ShardValue>(STATESTORE), { shards: config.STOCK_SHARDS, prefix: 'flash', replica: config.REPLICA_NAME });
  const stock = new StockKeeper(counter, new MySqlStockLedger(dataSource, 'flash_sales'), {
    what: 'Flash sale',
    defaultHoldSeconds: 300,
    orphanAfterMs: config.STOCK_ORPHAN_AFTER_SECONDS * 1000,
    // A sale's quantity never changes: its ledger must always add up to it.
    total: async (saleId): Promise<number> => (await sales.sale(saleId)).quantity,
    due: stockDue(due),
    onRebuilt: countRebuilds(metrics),
  });
  const catalog: ProductCatalog = {
    product: (id) => dapr.find<{ id: string; name: string; price: number }>('product-service', `api/products/${id}`),
  };
  const orderCheckMs = config.ORDER_CHECK_SECONDS * 1000;
  const purchases = new PurchaseRepository(dataSource, config.DB_POOL_SIZE, orderCheckMs);
  const snapshots = new Snapshots((saleId) => stock.level(saleId), {
    refreshAfterMs: config.SALE_SNAPSHOT_MS, maxAgeMs: 2 * config.SALE_SNAPSHOT_MS,
  });
  const board = new SaleBoard(snapshots, purchases, { refreshAfterMs: config.SALE_SNAPSHOT_MS, settleMs: config.HOLD_SETTLE_MS });
  const sales = new FlashSales(new SaleRepository(dataSource), purchases, stock, catalog, board);
  const outbox = new OutboxRelay(dataSource, dapr, PUBSUB, logger, metrics);
  const payments = paymentsFrom(config, dapr);
  const holds = new HoldBatches(
    purchases, stock, board, config.HOLD_QUEUE_LIMIT, config.HOLD_COOLDOWN_SECONDS * 1000, config.HOLD_BATCHES_IN_FLIGHT, batchMetrics(metrics),
  );
  const purchasing = new Purchasing(sales, purchases, stock, payments, board, holds, outbox.announce, due.holds.dueIn, () => due.orders.dueIn(orderCheckMs));
  const orderBook: OrderBook = {
    placed: async (orderIds) => new Set((await dapr.invoke<{ placed: string[] }>('order-service', 'internal/orders/placed', { method: 'POST', body: { orderIds } })).placed),
  };
  const orderChecks = new OrderChecks(purchases, sales, orderBook, { retryMs: orderCheckMs }, outbox.announce);
  return { sales, purchasing, purchases, stock, outbox, due, orderChecks };
}

/** Group commit, watched: how many attempts a batch carries and how long it takes to write. */
function batchMetrics(metrics: Metrics): BatchObserver {
  const size = metrics.histogram('hold_batch_attempts', 'Attempts decided and written per hold batch', [1, 2, 5, 10, 20, 50, 100, 200, 500]);
  const seconds = metrics.histogram('hold_batch_seconds', 'Time to decide and write one hold batch', [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]);
  return ({ attempts, seconds: took }) => {
    size.observe(attempts);
    seconds.observe(took);
  };
}
