import { EntitySchema } from 'typeorm';
import { bigintAsNumber } from '@flash/runtime';
import type { Product } from '../domain/product';

export const ProductEntity = new EntitySchema<Product>({
  name: 'Product',
  tableName: 'products',
  columns: {
    id: { type: 'char', length: 36, primary: true },
    name: { type: 'varchar', length: 200, unique: true },
    description: { type: 'text' },
    price: { type: 'bigint', transformer: bigintAsNumber },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3, createDate: true },
    updatedAt: { name: 'updated_at', type: 'datetime', precision: 3, updateDate: true },
  },
});
