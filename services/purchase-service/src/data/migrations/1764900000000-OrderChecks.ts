import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A paid purchase is checked for its order once (order_check_at, through its index): an event the broker lost (Redis
 * restarted without its streams, say) is sent again. The charge's reference is kept to send the event as it was.
 */
export class OrderChecks1764900000000 implements MigrationInterface {
  name = 'OrderChecks1764900000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE purchases
      ADD COLUMN payment_reference VARCHAR(100) NULL,
      ADD COLUMN order_check_at DATETIME(3) NULL,
      ADD KEY purchases_order_check (order_check_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE purchases DROP KEY purchases_order_check, DROP COLUMN order_check_at, DROP COLUMN payment_reference');
  }
}
