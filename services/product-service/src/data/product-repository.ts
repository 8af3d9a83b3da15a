import type { DataSource } from 'typeorm';
import { isDuplicateKey } from '@flash/runtime';
import type { ProductStore } from '../domain/catalog';
import type { Product, ProductChanges } from '../domain/product';
import { ProductEntity } from './product.entity';
import { MovementEntity } from '@flash/stock';

export class ProductRepository implements ProductStore {
  constructor(private readonly db: DataSource) {}

  private get products() {
    return this.db.getRepository(ProductEntity);
  }

  async insert(product: Omit<Product, 'createdAt' | 'updatedAt'>, initialStock: number): Promise<boolean> {
    try {
      await this.db.transaction(async (tx) => {
        await tx.getRepository(ProductEntity).insert(product);
        if (initialStock > 0) {
          await tx.getRepository(MovementEntity).insert({
            stockId: product.id, opId: `s:${product.id}:initial`, kind: 'set', availableDelta: initialStock, soldDelta: 0,
            reservationId: null,
          });
        }
      });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async update(id: string, changes: ProductChanges): Promise<boolean | undefined> {
    if (!(await this.products.existsBy({ id }))) return undefined;
    if (Object.keys(changes).length === 0) return true;
    try {
      await this.products.update({ id }, changes);
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async byId(id: string): Promise<Product | undefined> {
    return (await this.products.findOneBy({ id })) ?? undefined;
  }

  async page(offset: number, limit: number): Promise<{ items: Product[]; total: number }> {
    const [items, total] = await this.products.findAndCount({ order: { createdAt: 'ASC', id: 'ASC' }, skip: offset, take: limit });
    return { items, total };
  }
}
