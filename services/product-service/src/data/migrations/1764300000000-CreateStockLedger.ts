import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateStockLedger1764300000000 implements MigrationInterface {
  name = 'CreateStockLedger1764300000000';

  async up(db: QueryRunner): Promise<void> {
    // Bumped by every rebuild of the counter from the ledger; a take from an older counter is not recorded.
    await db.query('ALTER TABLE products ADD COLUMN stock_generation INT NOT NULL DEFAULT 1');
    await db.query(`CREATE TABLE stock_reservations (
      id VARCHAR(64) NOT NULL PRIMARY KEY,
      product_id CHAR(36) NOT NULL,
      quantity INT NOT NULL,
      status ENUM('RESERVED','COMMITTED','RELEASED','EXPIRED') NOT NULL,
      expires_at DATETIME(3) NOT NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      KEY stock_reservations_due (status, expires_at),
      KEY stock_reservations_product (product_id, status),
      CONSTRAINT stock_reservations_product FOREIGN KEY (product_id) REFERENCES products (id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await db.query(`CREATE TABLE stock_movements (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      product_id CHAR(36) NOT NULL,
      op_id VARCHAR(120) NOT NULL,
      kind ENUM('set','reserve','commit','release','expire','void') NOT NULL,
      available_delta INT NOT NULL,
      sold_delta INT NOT NULL,
      reservation_id VARCHAR(64) NULL,
      applied_at DATETIME(3) NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      UNIQUE KEY stock_movements_op (op_id),
      KEY stock_movements_product (product_id),
      KEY stock_movements_unapplied (applied_at, created_at),
      CONSTRAINT stock_movements_product FOREIGN KEY (product_id) REFERENCES products (id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE stock_movements');
    await db.query('DROP TABLE stock_reservations');
    await db.query('ALTER TABLE products DROP COLUMN stock_generation');
  }
}
