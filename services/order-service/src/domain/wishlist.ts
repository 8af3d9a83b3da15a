import { randomUUID } from 'node:crypto';
import { AppError } from '@flash/http';
import type { Clock } from './clock';
import type { WishlistItem } from './order';
import type { Orders } from './orders';
import type { OrderDetails, StockGateway, WishlistStore } from './ports';

const notFound = (id: string) => AppError.notFound(`Wishlist item ${id}`);

export class Wishlist {
  constructor(
    private readonly items: WishlistStore,
    private readonly stock: StockGateway,
    private readonly orders: Orders,
    private readonly clock: Clock,
  ) {}

  list(userId: string): Promise<WishlistItem[]> {
    return this.items.list(userId);
  }

  async add(userId: string, productId: string, quantity: number): Promise<WishlistItem> {
    const product = await this.stock.product(productId);
    if (!product) throw AppError.validation([{ field: 'productId', message: 'no such product' }]);
    return this.items.add({ id: randomUUID(), userId, productId, productName: product.name, quantity, addedAt: this.clock.now() });
  }

  async setQuantity(userId: string, id: string, quantity: number): Promise<WishlistItem> {
    if (!(await this.items.byId(userId, id))) throw notFound(id);
    await this.items.setQuantity(userId, id, quantity);
    return (await this.items.byId(userId, id))!;
  }

  async remove(userId: string, id: string): Promise<void> {
    if (!(await this.items.remove(userId, id))) throw notFound(id);
  }

  /** Orders the item (regular checkout) and takes it off the list; if the order fails, the item stays. */
  async order(userId: string, id: string, paymentToken?: string): Promise<OrderDetails> {
    const item = await this.items.byId(userId, id);
    if (!item) throw notFound(id);
    const placed = await this.orders.checkout(userId, [{ productId: item.productId, quantity: item.quantity }], { paymentToken });
    await this.items.remove(userId, id);
    return placed;
  }
}
