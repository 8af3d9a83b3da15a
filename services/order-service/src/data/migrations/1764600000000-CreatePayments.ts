import type { MigrationInterface, QueryRunner } from 'typeorm';
import { TABLE_OPTIONS } from '@flash/runtime';

/** Every charge behind an order (or meant for one), and its refund: at most one per charge. */
export class CreatePayments1764600000000 implements MigrationInterface {
  name = 'CreatePayments1764600000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE TABLE payments (
      id CHAR(36) NOT NULL PRIMARY KEY,
      user_id CHAR(36) NOT NULL,
      sale_id CHAR(36) NULL,
      order_id CHAR(36) NULL,
      source ENUM('FLASH','REGULAR') NOT NULL,
      idempotency_key VARCHAR(100) NULL,
      request_hash CHAR(64) NULL,
      amount BIGINT NOT NULL,
      status ENUM('PENDING','PAID','DECLINED','TIMED_OUT') NOT NULL,
      reference VARCHAR(100) NULL,
      failure VARCHAR(200) NULL,
      created_at DATETIME(3) NOT NULL,
      refund_key VARCHAR(80) NULL,
      refund_status ENUM('PENDING','REFUNDED') NULL,
      refund_reason VARCHAR(100) NULL,
      refund_amount BIGINT NULL,
      refund_reference VARCHAR(100) NULL,
      refund_requested_at DATETIME(3) NULL,
      refunded_at DATETIME(3) NULL,
      refund_attempts INT NOT NULL DEFAULT 0,
      refund_next_attempt_at DATETIME(3) NULL,
      refund_error VARCHAR(200) NULL,
      UNIQUE KEY payments_checkout_key (user_id, idempotency_key),
      KEY payments_status (status, created_at),
      KEY payments_refund_due (refund_status, refund_next_attempt_at),
      KEY payments_sale (sale_id)
    ) ${TABLE_OPTIONS}`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE payments');
  }
}
