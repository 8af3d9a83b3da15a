import type { MigrationInterface, QueryRunner } from 'typeorm';
import { OUTBOX_TABLE, TABLE_OPTIONS } from '@flash/runtime';
import { stockLedgerTables } from '@flash/stock';

export class CreateFlashSales1764400000000 implements MigrationInterface {
  name = 'CreateFlashSales1764400000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE TABLE flash_sales (
      id CHAR(36) NOT NULL PRIMARY KEY,
      product_id CHAR(36) NOT NULL,
      product_name VARCHAR(200) NOT NULL,
      price BIGINT NOT NULL,
      quantity INT NOT NULL,
      starts_at DATETIME(3) NOT NULL,
      ends_at DATETIME(3) NOT NULL,
      per_user_limit INT NOT NULL,
      hold_seconds INT NOT NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      KEY flash_sales_ends (ends_at, starts_at)
    ) ${TABLE_OPTIONS}`);
    for (const statement of stockLedgerTables('flash_sales')) await db.query(statement);
    await db.query(`CREATE TABLE purchases (
      id CHAR(36) NOT NULL PRIMARY KEY,
      sale_id CHAR(36) NOT NULL,
      buyer_id CHAR(36) NOT NULL,
      idempotency_key VARCHAR(100) NOT NULL,
      status ENUM('HELD','PAID','PAYMENT_FAILED','ABANDONED','EXPIRED','RESTOCKED') NOT NULL,
      price BIGINT NOT NULL,
      hold_expires_at DATETIME(3) NOT NULL,
      order_id CHAR(36) NULL,
      created_at DATETIME(3) NOT NULL,
      updated_at DATETIME(3) NOT NULL,
      UNIQUE KEY purchases_idempotency (buyer_id, idempotency_key),
      KEY purchases_buyer_sale (sale_id, buyer_id, status),
      KEY purchases_due (status, hold_expires_at),
      KEY purchases_history (buyer_id, created_at),
      CONSTRAINT purchases_sale FOREIGN KEY (sale_id) REFERENCES flash_sales (id)
    ) ${TABLE_OPTIONS}`);
    await db.query(`CREATE TABLE purchase_transitions (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      purchase_id CHAR(36) NOT NULL,
      from_status VARCHAR(20) NULL,
      to_status VARCHAR(20) NOT NULL,
      reason VARCHAR(100) NOT NULL,
      at DATETIME(3) NOT NULL,
      KEY purchase_transitions_purchase (purchase_id, id)
    ) ${TABLE_OPTIONS}`);
    // One row per (sale, buyer): locking it serialises one buyer's attempts, across sessions and instances.
    await db.query(`CREATE TABLE sale_buyers (
      sale_id CHAR(36) NOT NULL,
      buyer_id CHAR(36) NOT NULL,
      PRIMARY KEY (sale_id, buyer_id)
    ) ${TABLE_OPTIONS}`);
    await db.query(OUTBOX_TABLE);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of ['outbox', 'sale_buyers', 'purchase_transitions', 'purchases', 'stock_movements', 'stock_reservations', 'flash_sales']) {
      await db.query(`DROP TABLE ${table}`);
    }
  }
}
