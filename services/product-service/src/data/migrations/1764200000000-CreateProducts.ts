import type { MigrationInterface, QueryRunner } from 'typeorm';
import { TABLE_OPTIONS } from '@flash/runtime';

export class CreateProducts1764200000000 implements MigrationInterface {
  name = 'CreateProducts1764200000000';

  async up(db: QueryRunner): Promise<void> {
    // The unique name is case-insensitive (utf8mb4_unicode_ci): "Sneaker" and "sneaker" are one product.
    await db.query(`CREATE TABLE products (
      id CHAR(36) NOT NULL PRIMARY KEY,
      name VARCHAR(200) NOT NULL,
      description TEXT NOT NULL,
      price BIGINT NOT NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
      UNIQUE KEY products_name (name),
      KEY products_created (created_at, id)
    ) ${TABLE_OPTIONS}`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE products');
  }
}
