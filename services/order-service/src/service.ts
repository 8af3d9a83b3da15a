import { daprAuthenticator, revocationSubscription, type RevokedSessions } from '@flash/auth';
import { DueSignal, oncePerContext, OutboxEntity, OutboxRelay, PUBSUB, STATESTORE, type ServiceContext, type ServiceParts } from '@flash/runtime';
import { paymentsFrom } from '@flash/payments';
import { UserRate } from '@flash/http';
import { ordersRouter } from './api/orders';
import { paymentsRouter } from './api/payments';
import { wishlistRouter } from './api/wishlist';
import { SERVICE_NAME, type OrderConfig } from './config';
import { OrderEntity, OrderItemEntity, OrderTransitionEntity, PaymentEntity, WishlistItemEntity } from './data/entities';
import { CreateOrders1764500000000 } from './data/migrations/1764500000000-CreateOrders';
import { CreatePayments1764600000000 } from './data/migrations/1764600000000-CreatePayments';
import { DueWorkIndexes1764700000000 } from './data/migrations/1764700000000-DueWorkIndexes';
import { OrderRepository } from './data/order-repository';
import { PaymentRepository } from './data/payment-repository';
import { WishlistRepository } from './data/wishlist-repository';
import { systemClock, type Clock } from './domain/clock';
import { Orders } from './domain/orders';
import { Refunds } from './domain/refunds';
import { Wishlist } from './domain/wishlist';
import { purchasePaidSubscription } from './events/purchase-paid';
import { refundRequestedSubscription } from './events/refund-requested';
import { daprStockGateway } from './clients/stock-gateway';

/** The job that moves orders on (tests run it after moving the clock by days: `service.jobs.runNow`). */
export const ORDER_LIFECYCLE_JOB = 'order lifecycle';

export function orderService(config: OrderConfig, clock: Clock = systemClock): ServiceParts {
  const parts = oncePerContext((ctx) => assemble(config, clock, ctx));
  return {
    name: SERVICE_NAME,
    entities: [OrderEntity, OrderItemEntity, OrderTransitionEntity, WishlistItemEntity, PaymentEntity, OutboxEntity],
    migrations: [CreateOrders1764500000000, CreatePayments1764600000000, DueWorkIndexes1764700000000],
    routes: (ctx) => {
      const { orders, wishlist, refunds } = parts(ctx);
      const auth = daprAuthenticator(ctx.dapr, STATESTORE);
      return [
        ordersRouter(orders, auth, ctx.docs, ctx.metrics, new UserRate({
          points: config.CHECKOUTS_PER_USER, windowSeconds: config.CHECKOUTS_WINDOW_SECONDS, code: 'TOO_MANY_CHECKOUTS', what: 'checkouts',
        })), wishlistRouter(wishlist, auth, ctx.docs), paymentsRouter(refunds, auth, ctx.docs),
      ];
    },
    // It verifies tokens: it keeps its own marks of revoked sessions.
    subscriptions: (ctx) => [
      purchasePaidSubscription(parts(ctx).orders), refundRequestedSubscription(parts(ctx).refunds),
      revocationSubscription(ctx.dapr.state<RevokedSessions>(STATESTORE)),
    ],
    jobs: (ctx) => {
      const { orders, refunds, outbox, due } = parts(ctx);
      const moved = ctx.metrics.counter('order_transitions_total', 'Order transitions made by the scheduler');
      return [
        outbox.job(),
        {
          name: ORDER_LIFECYCLE_JOB, signal: due.lifecycle,
          run: async () => {
            const run = await orders.runScheduler();
            moved.inc(run.moved);
            return run.dueInMs;
          },
        },
        { name: 'refund retries', signal: due.refunds, run: async () => (await refunds.settleDue()).dueInMs },
        { name: 'abandoned checkouts', signal: due.checkouts, run: async () => (await orders.voidAbandonedCheckouts()).dueInMs },
      ];
    },
  };
}

function assemble(config: OrderConfig, clock: Clock, { dataSource, dapr, logger, metrics }: ServiceContext) {
  const stock = daprStockGateway(dapr);
  const outbox = new OutboxRelay(dataSource, dapr, PUBSUB, logger, metrics);
  const due = { lifecycle: new DueSignal(), refunds: new DueSignal(), checkouts: new DueSignal() };
  const payments = new PaymentRepository(dataSource);
  const refundAttempts = metrics.counter('refund_attempts_total', 'Refund attempts at the payment provider by outcome (REFUNDED, FAILED)', ['outcome']);
  const provider = paymentsFrom(config, dapr);
  const orders = new Orders(new OrderRepository(dataSource), payments, provider, stock, clock, {
    dayMs: config.ORDER_DAY_SECONDS * 1000,
    checkoutHoldSeconds: config.CHECKOUT_HOLD_SECONDS,
  }, outbox.announce, { lifecycle: due.lifecycle.dueIn, checkouts: due.checkouts.dueIn });
  return {
    orders,
    refunds: new Refunds(payments, provider, clock, {
      retryBaseMs: config.REFUND_RETRY_BASE_MS,
      retryMaxMs: config.REFUND_RETRY_MAX_MS,
      onAttempt: (outcome) => refundAttempts.inc({ outcome }),
      retryDue: due.refunds.dueIn,
    }),
    wishlist: new Wishlist(new WishlistRepository(dataSource), stock, orders, clock),
    outbox,
    due,
  };
}
