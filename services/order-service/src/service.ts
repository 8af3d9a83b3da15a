import { daprAuthenticator, revocationSubscription, type SessionRevocation } from '@flash/auth';
import { oncePerContext, OutboxEntity, OutboxRelay, PUBSUB, STATESTORE, type ServiceContext, type ServiceParts } from '@flash/runtime';
import { lifecycleRouter, ORDER_LIFECYCLE_ROUTE } from './api/lifecycle';
import { ordersRouter } from './api/orders';
import { wishlistRouter } from './api/wishlist';
import { SERVICE_NAME, type OrderConfig } from './config';
import { OrderEntity, OrderItemEntity, OrderTransitionEntity, WishlistItemEntity } from './data/entities';
import { CreateOrders1764500000000 } from './data/migrations/1764500000000-CreateOrders';
import { OrderRepository } from './data/order-repository';
import { WishlistRepository } from './data/wishlist-repository';
import { systemClock, type Clock } from './domain/clock';
import { Orders } from './domain/orders';
import { Wishlist } from './domain/wishlist';
import { purchasePaidSubscription } from './events/purchase-paid';
import { daprStockGateway } from './clients/stock-gateway';

export function orderService(config: OrderConfig, clock: Clock = systemClock): ServiceParts {
  const parts = oncePerContext((ctx) => assemble(config, clock, ctx));
  return {
    name: SERVICE_NAME,
    entities: [OrderEntity, OrderItemEntity, OrderTransitionEntity, WishlistItemEntity, OutboxEntity],
    migrations: [CreateOrders1764500000000],
    bindings: [ORDER_LIFECYCLE_ROUTE],
    routes: (ctx) => {
      const { orders, wishlist } = parts(ctx);
      const auth = daprAuthenticator(ctx.dapr, STATESTORE);
      return [ordersRouter(orders, auth, ctx.docs, ctx.metrics), wishlistRouter(wishlist, auth, ctx.docs), lifecycleRouter(orders, ctx.docs, ctx.metrics)];
    },
    // It verifies tokens: it keeps its own marks of revoked sessions.
    subscriptions: (ctx) => [purchasePaidSubscription(parts(ctx).orders), revocationSubscription(ctx.dapr.state<SessionRevocation>(STATESTORE))],
    schedules: (ctx) => [{ name: 'outbox relay', everyMs: config.OUTBOX_RELAY_MS, run: async () => void (await parts(ctx).outbox.flush()) }],
  };
}

function assemble(config: OrderConfig, clock: Clock, { dataSource, dapr, logger }: ServiceContext) {
  const stock = daprStockGateway(dapr);
  const orders = new Orders(new OrderRepository(dataSource), stock, clock, {
    dayMs: config.ORDER_DAY_SECONDS * 1000,
    checkoutHoldSeconds: config.CHECKOUT_HOLD_SECONDS,
  });
  return {
    orders,
    wishlist: new Wishlist(new WishlistRepository(dataSource), stock, orders, clock),
    outbox: new OutboxRelay(dataSource, dapr, PUBSUB, logger),
  };
}
