import { EntitySchema } from 'typeorm';
import { bigintAsNumber } from '@flash/runtime';
import type { Order, OrderItem, OrderTransition, WishlistItem } from '../domain/order';

export const OrderEntity = new EntitySchema<Order>({
  name: 'Order',
  tableName: 'orders',
  columns: {
    id: { type: 'char', length: 36, primary: true },
    userId: { name: 'user_id', type: 'char', length: 36 },
    source: { type: 'enum', enum: ['FLASH', 'REGULAR'] },
    status: { type: 'enum', enum: ['PLACED', 'SHIPPING', 'DELIVERED', 'CANCELLED', 'RETURN_REQUESTED', 'RETURNED'] },
    total: { type: 'bigint', transformer: bigintAsNumber },
    placedAt: { name: 'placed_at', type: 'datetime', precision: 3 },
    deliveredAt: { name: 'delivered_at', type: 'datetime', precision: 3, nullable: true },
    returnRequestedAt: { name: 'return_requested_at', type: 'datetime', precision: 3, nullable: true },
    stockCommittedAt: { name: 'stock_committed_at', type: 'datetime', precision: 3, nullable: true },
  },
});

export const OrderItemEntity = new EntitySchema<OrderItem>({
  name: 'OrderItem',
  tableName: 'order_items',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    orderId: { name: 'order_id', type: 'char', length: 36 },
    productId: { name: 'product_id', type: 'char', length: 36 },
    quantity: { type: 'int' },
    price: { type: 'bigint', transformer: bigintAsNumber },
    saleId: { name: 'sale_id', type: 'char', length: 36, nullable: true },
    purchaseId: { name: 'purchase_id', type: 'char', length: 36, nullable: true },
    reservationId: { name: 'reservation_id', type: 'varchar', length: 64, nullable: true },
    restockedAt: { name: 'restocked_at', type: 'datetime', precision: 3, nullable: true },
  },
});

export const OrderTransitionEntity = new EntitySchema<OrderTransition>({
  name: 'OrderTransition',
  tableName: 'order_transitions',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    orderId: { name: 'order_id', type: 'char', length: 36 },
    fromStatus: { name: 'from_status', type: 'varchar', length: 20, nullable: true },
    toStatus: { name: 'to_status', type: 'varchar', length: 20 },
    at: { type: 'datetime', precision: 3 },
  },
});

export const WishlistItemEntity = new EntitySchema<WishlistItem>({
  name: 'WishlistItem',
  tableName: 'wishlist_items',
  columns: {
    id: { type: 'char', length: 36, primary: true },
    userId: { name: 'user_id', type: 'char', length: 36 },
    productId: { name: 'product_id', type: 'char', length: 36 },
    productName: { name: 'product_name', type: 'varchar', length: 200 },
    quantity: { type: 'int' },
    addedAt: { name: 'added_at', type: 'datetime', precision: 3 },
  },
});
