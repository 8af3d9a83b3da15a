export interface Product {
  id: string;
  name: string;
  description: string;
  /** Integer minor units (e.g. cents, or won). */
  price: number;
  createdAt: Date;
  updatedAt: Date;
}

export type NewProduct = Pick<Product, 'name' | 'description' | 'price'>;
export type ProductChanges = Partial<NewProduct>;

export interface Page<T> {
  items: T[];
  page: number;
  size: number;
  total: number;
}
