import { EntitySchema } from 'typeorm';
import { bigintAsNumber, TABLE_OPTIONS } from '@flash/runtime';
import type { Movement, Reservation } from './keeper';

export const ReservationEntity = new EntitySchema<Reservation>({
  name: 'StockReservation',
  tableName: 'stock_reservations',
  columns: {
    id: { type: 'varchar', length: 64, primary: true },
    stockId: { name: 'stock_id', type: 'char', length: 36 },
    quantity: { type: 'int' },
    status: { type: 'enum', enum: ['RESERVED', 'COMMITTED', 'RELEASED', 'EXPIRED', 'RETURNED'] },
    expiresAt: { name: 'expires_at', type: 'datetime', precision: 3 },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3, createDate: true },
  },
});

export const MovementEntity = new EntitySchema<Movement>({
  name: 'StockMovement',
  tableName: 'stock_movements',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    stockId: { name: 'stock_id', type: 'char', length: 36 },
    opId: { name: 'op_id', type: 'varchar', length: 120, unique: true },
    kind: { type: 'enum', enum: ['set', 'reserve', 'commit', 'release', 'expire', 'return', 'void'] },
    availableDelta: { name: 'available_delta', type: 'int' },
    soldDelta: { name: 'sold_delta', type: 'int' },
    reservationId: { name: 'reservation_id', type: 'varchar', length: 64, nullable: true },
    appliedAt: { name: 'applied_at', type: 'datetime', precision: 3, nullable: true },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3, createDate: true },
  },
});

/** The ledger's tables, for the owning service's migration; `ownerTable` gets the counter generation column. */
export function stockLedgerTables(ownerTable: string): string[] {
  return [
    // Bumped by every rebuild of the counter from the ledger; a take from an older counter is not recorded.
    `ALTER TABLE ${ownerTable} ADD COLUMN stock_generation INT NOT NULL DEFAULT 1`,
    `CREATE TABLE stock_reservations (
      id VARCHAR(64) NOT NULL PRIMARY KEY,
      stock_id CHAR(36) NOT NULL,
      quantity INT NOT NULL,
      status ENUM('RESERVED','COMMITTED','RELEASED','EXPIRED','RETURNED') NOT NULL,
      expires_at DATETIME(3) NOT NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      KEY stock_reservations_due (status, expires_at),
      KEY stock_reservations_stock (stock_id, status),
      CONSTRAINT stock_reservations_owner FOREIGN KEY (stock_id) REFERENCES ${ownerTable} (id)
    ) ${TABLE_OPTIONS}`,
    `CREATE TABLE stock_movements (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      stock_id CHAR(36) NOT NULL,
      op_id VARCHAR(120) NOT NULL,
      kind ENUM('set','reserve','commit','release','expire','return','void') NOT NULL,
      available_delta INT NOT NULL,
      sold_delta INT NOT NULL,
      reservation_id VARCHAR(64) NULL,
      applied_at DATETIME(3) NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      UNIQUE KEY stock_movements_op (op_id),
      KEY stock_movements_stock (stock_id, created_at),
      KEY stock_movements_unapplied (applied_at, created_at),
      CONSTRAINT stock_movements_owner FOREIGN KEY (stock_id) REFERENCES ${ownerTable} (id)
    ) ${TABLE_OPTIONS}`,
  ];
}
