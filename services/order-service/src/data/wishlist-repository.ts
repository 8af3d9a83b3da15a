import type { DataSource } from 'typeorm';
import { WISHLIST_MAX_QUANTITY, type WishlistItem } from '../domain/order';
import type { WishlistStore } from '../domain/ports';
import { WishlistItemEntity } from './entities';

export class WishlistRepository implements WishlistStore {
  constructor(private readonly db: DataSource) {}

  private get items() {
    return this.db.getRepository(WishlistItemEntity);
  }

  list(userId: string): Promise<WishlistItem[]> {
    return this.items.find({ where: { userId }, order: { addedAt: 'ASC' } });
  }

  async byId(userId: string, id: string): Promise<WishlistItem | undefined> {
    return (await this.items.findOneBy({ id, userId })) ?? undefined;
  }

  async add(item: WishlistItem): Promise<WishlistItem> {
    await this.db.query(
      `INSERT INTO wishlist_items (id, user_id, product_id, product_name, quantity, added_at) VALUES (?, ?, ?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE quantity = LEAST(quantity + VALUES(quantity), ?)`,
      // One statement: concurrent adds of the same product each see the other's units and still stop at the cap.
      [item.id, item.userId, item.productId, item.productName, item.quantity, item.addedAt, WISHLIST_MAX_QUANTITY],
    );
    return (await this.items.findOneBy({ userId: item.userId, productId: item.productId }))!;
  }

  async setQuantity(userId: string, id: string, quantity: number): Promise<void> {
    await this.items.update({ id, userId }, { quantity });
  }

  async remove(userId: string, id: string): Promise<boolean> {
    return ((await this.items.delete({ id, userId })).affected ?? 0) > 0;
  }
}
