import { EntitySchema } from 'typeorm';
import { bigintAsNumber } from '@flash/runtime';
import type { FlashSale, Purchase } from '../domain/flash-sale';

export const FlashSaleEntity = new EntitySchema<FlashSale>({
  name: 'FlashSale',
  tableName: 'flash_sales',
  columns: {
    id: { type: 'char', length: 36, primary: true },
    productId: { name: 'product_id', type: 'char', length: 36 },
    productName: { name: 'product_name', type: 'varchar', length: 200 },
    price: { type: 'bigint', transformer: bigintAsNumber },
    quantity: { type: 'int' },
    startsAt: { name: 'starts_at', type: 'datetime', precision: 3 },
    endsAt: { name: 'ends_at', type: 'datetime', precision: 3 },
    perUserLimit: { name: 'per_user_limit', type: 'int' },
    holdSeconds: { name: 'hold_seconds', type: 'int' },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3, createDate: true },
  },
});

export const PurchaseEntity = new EntitySchema<Purchase>({
  name: 'Purchase',
  tableName: 'purchases',
  columns: {
    id: { type: 'char', length: 36, primary: true },
    saleId: { name: 'sale_id', type: 'char', length: 36 },
    buyerId: { name: 'buyer_id', type: 'char', length: 36 },
    idempotencyKey: { name: 'idempotency_key', type: 'varchar', length: 100 },
    status: { type: 'enum', enum: ['HELD', 'PAID', 'PAYMENT_FAILED', 'ABANDONED', 'EXPIRED', 'RESTOCKED'] },
    price: { type: 'bigint', transformer: bigintAsNumber },
    holdExpiresAt: { name: 'hold_expires_at', type: 'datetime', precision: 3 },
    orderId: { name: 'order_id', type: 'char', length: 36, nullable: true },
    limitSlot: { name: 'limit_slot', type: 'smallint', nullable: true },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3 },
    updatedAt: { name: 'updated_at', type: 'datetime', precision: 3 },
  },
});

export interface PurchaseTransition {
  id: number;
  purchaseId: string;
  fromStatus: string | null;
  toStatus: string;
  reason: string;
  at: Date;
}

export const PurchaseTransitionEntity = new EntitySchema<PurchaseTransition>({
  name: 'PurchaseTransition',
  tableName: 'purchase_transitions',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    purchaseId: { name: 'purchase_id', type: 'char', length: 36 },
    fromStatus: { name: 'from_status', type: 'varchar', length: 20, nullable: true },
    toStatus: { name: 'to_status', type: 'varchar', length: 20 },
    reason: { type: 'varchar', length: 100 },
    at: { type: 'datetime', precision: 3 },
  },
});
