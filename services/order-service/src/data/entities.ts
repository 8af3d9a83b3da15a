import { EntitySchema } from 'typeorm';
import { bigintAsNumber } from '@flash/runtime';
import type { Order, OrderItem, OrderTransition, WishlistItem } from '../domain/order';
import type { Payment } from '../domain/payment';

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

const when = (name: string) => ({ name, type: 'datetime' as const, precision: 3, nullable: true });

export const PaymentEntity = new EntitySchema<Payment>({
  name: 'Payment',
  tableName: 'payments',
  columns: {
    id: { type: 'char', length: 36, primary: true },
    userId: { name: 'user_id', type: 'char', length: 36 },
    saleId: { name: 'sale_id', type: 'char', length: 36, nullable: true },
    orderId: { name: 'order_id', type: 'char', length: 36, nullable: true },
    source: { type: 'enum', enum: ['FLASH', 'REGULAR'] },
    idempotencyKey: { name: 'idempotency_key', type: 'varchar', length: 100, nullable: true },
    requestHash: { name: 'request_hash', type: 'char', length: 64, nullable: true },
    amount: { type: 'bigint', transformer: bigintAsNumber },
    status: { type: 'enum', enum: ['PENDING', 'PAID', 'DECLINED', 'TIMED_OUT'] },
    reference: { type: 'varchar', length: 100, nullable: true },
    failure: { type: 'varchar', length: 200, nullable: true },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3 },
    refundKey: { name: 'refund_key', type: 'varchar', length: 80, nullable: true },
    refundStatus: { name: 'refund_status', type: 'enum', enum: ['PENDING', 'REFUNDED'], nullable: true },
    refundReason: { name: 'refund_reason', type: 'varchar', length: 100, nullable: true },
    refundAmount: { name: 'refund_amount', type: 'bigint', nullable: true, transformer: { from: (v: unknown) => (v === null ? null : Number(v)), to: (v: unknown) => v } },
    refundReference: { name: 'refund_reference', type: 'varchar', length: 100, nullable: true },
    refundRequestedAt: when('refund_requested_at'),
    refundedAt: when('refunded_at'),
    refundAttempts: { name: 'refund_attempts', type: 'int' },
    refundNextAttemptAt: when('refund_next_attempt_at'),
    refundError: { name: 'refund_error', type: 'varchar', length: 200, nullable: true },
  },
});
