import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The retention job finds the oldest unpaid purchases by status and age without reading the table. */
export class UnpaidPurchaseRetention1764800000000 implements MigrationInterface {
  name = 'UnpaidPurchaseRetention1764800000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE purchases ADD KEY purchases_settled (status, updated_at)');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE purchases DROP KEY purchases_settled');
  }
}
