import { daprAuthenticator, revocationSubscription, type SessionRevocation } from '@flash/auth';
import { oncePerContext, OutboxEntity, OutboxRelay, PUBSUB, STATESTORE, type ServiceContext, type ServiceParts } from '@flash/runtime';
import { paymentsFrom } from '@flash/payments';
import { lifecycleRouter, ORDER_LIFECYCLE_ROUTE } from './api/lifecycle';
import { ordersRouter } from './api/orders';
import { paymentsRouter } from './api/payments';
import { wishlistRouter } from './api/wishlist';
import { SERVICE_NAME, type OrderConfig } from './config';
import { OrderEntity, OrderItemEntity, OrderTransitionEntity, PaymentEntity, WishlistItemEntity } from './data/entities';
import { CreateOrders1764500000000 } from './data/migrations/1764500000000-CreateOrders';
import { CreatePayments1764600000000 } from './data/migrations/1764600000000-CreatePayments';
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

export function orderService(config: OrderConfig, clock: Clock = systemClock): ServiceParts {
  const parts = oncePerContext((ctx) => assemble(config, clock, ctx));
  return {
    name: SERVICE_NAME,
    entities: [OrderEntity, OrderItemEntity, OrderTransitionEntity, WishlistItemEntity, PaymentEntity, OutboxEntity],
    migrations: [CreateOrders1764500000000, CreatePayments1764600000000],
    bindings: [ORDER_LIFECYCLE_ROUTE],
    routes: (ctx) => {
      const { orders, wishlist, refunds } = parts(ctx);
      const auth = daprAuthenticator(ctx.dapr, STATESTORE);
      return [
        ordersRouter(orders, auth, ctx.docs, ctx.metrics), wishlistRouter(wishlist, auth, ctx.docs), lifecycleRouter(orders, ctx.docs, ctx.metrics),
        paymentsRouter(refunds, auth, ctx.docs),
      ];
    },
    // It verifies tokens: it keeps its own marks of revoked sessions.
    subscriptions: (ctx) => [
      purchasePaidSubscription(parts(ctx).orders), refundRequestedSubscription(parts(ctx).refunds),
      revocationSubscription(ctx.dapr.state<SessionRevocation>(STATESTORE)),
    ],
    schedules: (ctx) => [
      { name: 'outbox relay', everyMs: config.OUTBOX_RELAY_MS, run: async () => void (await parts(ctx).outbox.flush()) },
      {
        name: 'refund retries',
        everyMs: Math.min(config.REFUND_RETRY_BASE_MS, 1000),
        run: async () => {
          const { orders, refunds } = parts(ctx);
          await orders.voidAbandonedCheckouts();
          await refunds.settleDue();
        },
      },
    ],
  };
}

function assemble(config: OrderConfig, clock: Clock, { dataSource, dapr, logger, metrics }: ServiceContext) {
  const stock = daprStockGateway(dapr);
  const outbox = new OutboxRelay(dataSource, dapr, PUBSUB, logger);
  const payments = new PaymentRepository(dataSource);
  const refundAttempts = metrics.counter('refund_attempts_total', 'Refund attempts at the payment provider by outcome (REFUNDED, FAILED)', ['outcome']);
  const provider = paymentsFrom(config, dapr);
  const announce = () => {
    outbox.flush().catch((err: unknown) => logger.warn({ err }, 'outbox publish failed; the relay retries'));
  };
  const orders = new Orders(new OrderRepository(dataSource), payments, provider, stock, clock, {
    dayMs: config.ORDER_DAY_SECONDS * 1000,
    checkoutHoldSeconds: config.CHECKOUT_HOLD_SECONDS,
  }, announce);
  return {
    orders,
    refunds: new Refunds(payments, provider, clock, {
      retryBaseMs: config.REFUND_RETRY_BASE_MS,
      retryMaxMs: config.REFUND_RETRY_MAX_MS,
      onAttempt: (outcome) => refundAttempts.inc({ outcome }),
    }),
    wishlist: new Wishlist(new WishlistRepository(dataSource), stock, orders, clock),
    outbox,
  };
}
