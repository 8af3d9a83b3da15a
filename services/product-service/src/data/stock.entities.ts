import { EntitySchema } from 'typeorm';
import type { Movement, Reservation } from '../domain/stock';

const bigintAsNumber = { from: Number, to: (v: unknown) => v };

export const ReservationEntity = new EntitySchema<Reservation>({
  name: 'StockReservation',
  tableName: 'stock_reservations',
  columns: {
    id: { type: 'varchar', length: 64, primary: true },
    productId: { name: 'product_id', type: 'char', length: 36 },
    quantity: { type: 'int' },
    status: { type: 'enum', enum: ['RESERVED', 'COMMITTED', 'RELEASED', 'EXPIRED'] },
    expiresAt: { name: 'expires_at', type: 'datetime', precision: 3 },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3, createDate: true },
  },
});

export const MovementEntity = new EntitySchema<Movement>({
  name: 'StockMovement',
  tableName: 'stock_movements',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    productId: { name: 'product_id', type: 'char', length: 36 },
    opId: { name: 'op_id', type: 'varchar', length: 120, unique: true },
    kind: { type: 'enum', enum: ['set', 'reserve', 'commit', 'release', 'expire', 'void'] },
    availableDelta: { name: 'available_delta', type: 'int' },
    soldDelta: { name: 'sold_delta', type: 'int' },
    reservationId: { name: 'reservation_id', type: 'varchar', length: 64, nullable: true },
    appliedAt: { name: 'applied_at', type: 'datetime', precision: 3, nullable: true },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3, createDate: true },
  },
});
