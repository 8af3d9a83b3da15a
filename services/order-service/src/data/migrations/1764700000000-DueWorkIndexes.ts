import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The scheduler's jobs look only at work that is due, through indexes: the first order waiting in each step
 * (status, then the time its step counts from), regular orders whose stock is not committed yet, and orders whose
 * quantity has still to go back to stock (`restock_due_at`, set when an order is cancelled or returned, cleared once
 * every item is back).
 */
export class DueWorkIndexes1764700000000 implements MigrationInterface {
  name = 'DueWorkIndexes1764700000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE orders
      ADD COLUMN restock_due_at DATETIME(3) NULL,
      ADD KEY orders_step_placed (status, placed_at),
      ADD KEY orders_step_return (status, return_requested_at),
      ADD KEY orders_uncommitted (source, stock_committed_at, status),
      ADD KEY orders_restock_due (restock_due_at),
      DROP KEY orders_status`);
    await db.query(`UPDATE orders o SET o.restock_due_at = CURRENT_TIMESTAMP(3)
      WHERE o.status IN ('CANCELLED', 'RETURNED')
        AND EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id AND i.restocked_at IS NULL)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE orders
      ADD KEY orders_status (status),
      DROP KEY orders_restock_due,
      DROP KEY orders_uncommitted,
      DROP KEY orders_step_return,
      DROP KEY orders_step_placed,
      DROP COLUMN restock_due_at`);
  }
}
