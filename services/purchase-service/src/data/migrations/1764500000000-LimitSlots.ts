import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The per-buyer limit becomes a unique key: a purchase that counts against the limit takes one of the buyer's slots
 * (0 … perUserLimit-1) on the sale, and gives it back (NULL) when it stops counting. Two replicas that both let a buyer
 * past the limit collide on the key inside the hold's own transaction; no lock is taken before the work.
 */
export class LimitSlots1764500000000 implements MigrationInterface {
  name = 'LimitSlots1764500000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE purchases
      ADD COLUMN limit_slot SMALLINT NULL,
      ADD UNIQUE KEY purchases_limit_slot (sale_id, buyer_id, limit_slot),
      ADD KEY purchases_sale_changes (sale_id, updated_at)`);
    await db.query(`UPDATE purchases p JOIN (
        SELECT id, ROW_NUMBER() OVER (PARTITION BY sale_id, buyer_id ORDER BY created_at, id) - 1 AS slot
          FROM purchases WHERE status IN ('HELD', 'PAID')
      ) s ON s.id = p.id
      SET p.limit_slot = s.slot`);
    await db.query('DROP TABLE sale_buyers');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`CREATE TABLE sale_buyers (
      sale_id CHAR(36) NOT NULL,
      buyer_id CHAR(36) NOT NULL,
      PRIMARY KEY (sale_id, buyer_id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await db.query('ALTER TABLE purchases DROP KEY purchases_sale_changes, DROP KEY purchases_limit_slot, DROP COLUMN limit_slot');
  }
}
