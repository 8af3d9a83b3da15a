import type { MigrationInterface, QueryRunner } from 'typeorm';
import { OUTBOX_TABLE, TABLE_OPTIONS } from '@flash/runtime';

export class CreateOrders1764500000000 implements MigrationInterface {
  name = 'CreateOrders1764500000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE TABLE orders (
      id CHAR(36) NOT NULL PRIMARY KEY,
      user_id CHAR(36) NOT NULL,
      source ENUM('FLASH','REGULAR') NOT NULL,
      status ENUM('PLACED','SHIPPING','DELIVERED','CANCELLED','RETURN_REQUESTED','RETURNED') NOT NULL,
      total BIGINT NOT NULL,
      placed_at DATETIME(3) NOT NULL,
      delivered_at DATETIME(3) NULL,
      return_requested_at DATETIME(3) NULL,
      stock_committed_at DATETIME(3) NULL,
      KEY orders_user (user_id, placed_at),
      KEY orders_status (status)
    ) ${TABLE_OPTIONS}`);
    await db.query(`CREATE TABLE order_items (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      order_id CHAR(36) NOT NULL,
      product_id CHAR(36) NOT NULL,
      quantity INT NOT NULL,
      price BIGINT NOT NULL,
      sale_id CHAR(36) NULL,
      purchase_id CHAR(36) NULL,
      reservation_id VARCHAR(64) NULL,
      restocked_at DATETIME(3) NULL,
      KEY order_items_order (order_id),
      CONSTRAINT order_items_order FOREIGN KEY (order_id) REFERENCES orders (id)
    ) ${TABLE_OPTIONS}`);
    await db.query(`CREATE TABLE order_transitions (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      order_id CHAR(36) NOT NULL,
      from_status VARCHAR(20) NULL,
      to_status VARCHAR(20) NOT NULL,
      at DATETIME(3) NOT NULL,
      KEY order_transitions_order (order_id, id)
    ) ${TABLE_OPTIONS}`);
    await db.query(`CREATE TABLE wishlist_items (
      id CHAR(36) NOT NULL PRIMARY KEY,
      user_id CHAR(36) NOT NULL,
      product_id CHAR(36) NOT NULL,
      product_name VARCHAR(200) NOT NULL,
      quantity INT NOT NULL,
      added_at DATETIME(3) NOT NULL,
      UNIQUE KEY wishlist_user_product (user_id, product_id)
    ) ${TABLE_OPTIONS}`);
    await db.query(OUTBOX_TABLE);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of ['outbox', 'wishlist_items', 'order_transitions', 'order_items', 'orders']) await db.query(`DROP TABLE ${table}`);
  }
}
