import { randomUUID } from 'node:crypto';
import { AppError } from '@flash/http';
import type { StockKeeper } from '@flash/stock';
import { saleStatus, type FlashSale, type NewFlashSale, type SaleStatus } from './flash-sale';
import type { ProductCatalog, PurchaseStore, SaleStore } from './ports';
import type { SaleBoard } from './sale-board';

export interface SaleView extends FlashSale {
  remaining: number;
  status: SaleStatus;
}

/** What operators check: the ledger balances at every instant; counter and purchases agree with it when quiet. */
export interface SaleInvariant {
  saleId: string;
  quantity: number;
  ledger: { available: number; held: number; sold: number };
  counter: { available: number };
  purchases: { held: number; paid: number; paymentFailed: number; abandoned: number; expired: number; restocked: number };
  /** quantity = available + held + sold in the ledger. */
  ledgerBalances: boolean;
  /** The live counter and the purchases agree with the ledger (true whenever no purchase is mid-flight). */
  consistent: boolean;
}

export class FlashSales {
  private readonly cache = new Map<string, FlashSale>();

  constructor(
    private readonly sales: SaleStore,
    private readonly purchases: PurchaseStore,
    private readonly stock: StockKeeper,
    private readonly catalog: ProductCatalog,
    /** Units free to sell, from the replica's snapshot (the sale page must not cost a counter read per view). */
    private readonly board: Pick<SaleBoard, 'available'>,
  ) {}

  async create(input: NewFlashSale, now = new Date()): Promise<SaleView> {
    if (input.endsAt.getTime() <= input.startsAt.getTime()) {
      throw AppError.validation([{ field: 'endsAt', message: 'must be after startsAt' }]);
    }
    if (input.endsAt.getTime() <= now.getTime()) throw AppError.validation([{ field: 'endsAt', message: 'must be in the future' }]);
    const product = await this.catalog.product(input.productId);
    if (!product) throw AppError.validation([{ field: 'productId', message: 'no such product' }]);
    const sale = { id: randomUUID(), ...input, productName: product.name, price: product.price };
    await this.sales.insert(sale);
    return this.view((await this.sales.byId(sale.id))!, now);
  }

  /** A sale by id; sales never change once made, so instances keep them in memory. */
  async sale(id: string): Promise<FlashSale> {
    let sale = this.cache.get(id);
    if (!sale) {
      sale = await this.sales.byId(id);
      if (!sale) throw AppError.notFound(`Flash sale ${id}`);
      this.cache.set(id, sale);
    }
    return sale;
  }

  async get(id: string, now = new Date()): Promise<SaleView> {
    return this.view(await this.sale(id), now);
  }

  async upcomingAndLive(now = new Date()): Promise<SaleView[]> {
    return Promise.all((await this.sales.notEnded(now)).map((s) => this.view(s, now)));
  }

  async invariant(id: string): Promise<SaleInvariant> {
    const sale = await this.sale(id);
    const levels = await this.stock.levels(id);
    const totals = await this.stock.ledgerTotals(id);
    const counts = await this.purchases.counts(id);
    const ledger = { available: totals.available, held: totals.reserved, sold: totals.sold };
    return {
      saleId: id,
      quantity: sale.quantity,
      ledger,
      counter: { available: levels.available },
      purchases: {
        held: counts.HELD, paid: counts.PAID, paymentFailed: counts.PAYMENT_FAILED, abandoned: counts.ABANDONED, expired: counts.EXPIRED,
        restocked: counts.RESTOCKED,
      },
      ledgerBalances: ledger.available + ledger.held + ledger.sold === sale.quantity,
      consistent: levels.available === ledger.available && counts.HELD === ledger.held && counts.PAID === ledger.sold,
    };
  }

  private async view(sale: FlashSale, now: Date): Promise<SaleView> {
    const remaining = await this.board.available(sale.id);
    return { ...sale, remaining, status: saleStatus(sale, remaining, now) };
  }
}
