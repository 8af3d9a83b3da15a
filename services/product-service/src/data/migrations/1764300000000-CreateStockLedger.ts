import type { MigrationInterface, QueryRunner } from 'typeorm';
import { stockLedgerTables } from '@flash/stock';

export class CreateStockLedger1764300000000 implements MigrationInterface {
  name = 'CreateStockLedger1764300000000';

  async up(db: QueryRunner): Promise<void> {
    for (const statement of stockLedgerTables('products')) await db.query(statement);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE stock_movements');
    await db.query('DROP TABLE stock_reservations');
    await db.query('ALTER TABLE products DROP COLUMN stock_generation');
  }
}
