import { MoreThan, type DataSource } from 'typeorm';
import { MovementEntity } from '@flash/stock';
import type { FlashSale } from '../domain/flash-sale';
import type { SaleStore } from '../domain/ports';
import { FlashSaleEntity } from './entities';

export class SaleRepository implements SaleStore {
  constructor(private readonly db: DataSource) {}

  async insert(sale: Omit<FlashSale, 'createdAt'>): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.getRepository(FlashSaleEntity).insert(sale);
      await tx.getRepository(MovementEntity).insert({
        stockId: sale.id, opId: `s:${sale.id}:initial`, kind: 'set', availableDelta: sale.quantity, soldDelta: 0, reservationId: null,
      });
    });
  }

  async byId(id: string): Promise<FlashSale | undefined> {
    return (await this.db.getRepository(FlashSaleEntity).findOneBy({ id })) ?? undefined;
  }

  async notEnded(now: Date): Promise<FlashSale[]> {
    return this.db.getRepository(FlashSaleEntity).find({ where: { endsAt: MoreThan(now) }, order: { startsAt: 'ASC' }, take: 100 });
  }
}
