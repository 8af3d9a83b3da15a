import { randomUUID } from 'node:crypto';
import { AppError } from '@flash/http';
import type { NewProduct, Page, Product, ProductChanges } from './product';

export interface ProductStore {
  /** False when the name is taken. The initial stock is recorded in the ledger with the product, in one transaction. */
  insert(product: Omit<Product, 'createdAt' | 'updatedAt'>, initialStock: number): Promise<boolean>;
  /** False when the new name is taken; undefined when there is no such product. */
  update(id: string, changes: ProductChanges): Promise<boolean | undefined>;
  byId(id: string): Promise<Product | undefined>;
  page(offset: number, limit: number): Promise<{ items: Product[]; total: number }>;
}

const nameTaken = (name: string) => new AppError(409, 'PRODUCT_NAME_TAKEN', 'Product name taken', `A product named "${name}" already exists.`);

/** The catalog as admins manage it and shoppers browse it. */
export class Catalog {
  constructor(private readonly products: ProductStore) {}

  /** The stock counter follows from the ledger the first time it is read. */
  async create(input: NewProduct, initialStock = 0): Promise<Product> {
    const id = randomUUID();
    if (!(await this.products.insert({ id, ...input }, initialStock))) throw nameTaken(input.name);
    return this.get(id);
  }

  async update(id: string, changes: ProductChanges): Promise<Product> {
    const updated = await this.products.update(id, changes);
    if (updated === undefined) throw AppError.notFound(`Product ${id}`);
    if (!updated) throw nameTaken(changes.name ?? '');
    return this.get(id);
  }

  async get(id: string): Promise<Product> {
    const product = await this.products.byId(id);
    if (!product) throw AppError.notFound(`Product ${id}`);
    return product;
  }

  async list(page: number, size: number): Promise<Page<Product>> {
    const { items, total } = await this.products.page((page - 1) * size, size);
    return { items, page, size, total };
  }
}
