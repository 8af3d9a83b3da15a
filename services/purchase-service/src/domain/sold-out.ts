/**
 * Remembers, per sale, that a recent attempt found nothing left, so the crowd behind it is answered from memory.
 * The memory is short: held units that come back (on any instance) are offered again within `recheckMs`.
 */
export class SoldOutMemory {
  private readonly since = new Map<string, number>();

  constructor(private readonly recheckMs: number) {}

  isSoldOut(saleId: string, now = Date.now()): boolean {
    const at = this.since.get(saleId);
    return at !== undefined && now - at < this.recheckMs;
  }

  soldOut(saleId: string, now = Date.now()): void {
    this.since.set(saleId, now);
  }

  /** A unit came back on this instance: offer it at once. */
  unitReturned(saleId: string): void {
    this.since.delete(saleId);
  }
}
