import { Snapshots, type CounterLevel } from '@flash/stock';
import type { Purchase } from '../src/domain/flash-sale';
import { BOOKS_KEPT, SaleBoard } from '../src/domain/sale-board';

/** The board's rules on their own: a sold-out counter and purchases kept in memory stand in for Redis and MariaDB. */
describe('sale board: the buyer books of sales that stopped selling', () => {
  const REFRESH_MS = 1000;
  const recorded: Purchase[] = [];
  const reads: string[] = [];
  const purchases = {
    changedSince: async (saleId: string) => {
      reads.push(saleId);
      return recorded.filter((p) => p.saleId === saleId);
    },
  };
  const soldOut = new Snapshots<CounterLevel>(async () => ({ available: 0, takesInFlight: 0 }), { refreshAfterMs: REFRESH_MS, maxAgeMs: 2 * REFRESH_MS });
  const board = new SaleBoard(soldOut, purchases, { refreshAfterMs: REFRESH_MS, settleMs: 2000 });
  const settled = () => new Promise((resolve) => setImmediate(resolve));
  const hold = (saleId: string): Purchase => {
    const at = new Date();
    const p: Purchase = {
      id: `p-${saleId}`, saleId, buyerId: 'buyer', idempotencyKey: `key-${saleId}`, status: 'HELD', price: 1000,
      holdExpiresAt: new Date(at.getTime() + 60_000), orderId: null, limitSlot: 0, createdAt: at, updatedAt: at,
    };
    recorded.push(p);
    return p;
  };
  /** A retry of the sale's one hold, as an attempt on the sold-out sale asks the board, until memory can tell. */
  const retry = async (saleId: string, now = Date.now()) => {
    let answer = board.earlierAttempt(saleId, 'buyer', `key-${saleId}`, 0, now);
    for (let i = 0; answer === undefined && i < 10; i++) {
      await settled();
      answer = board.earlierAttempt(saleId, 'buyer', `key-${saleId}`, 0, now);
    }
    return answer;
  };

  it('when more sales stop selling than the board keeps books of, then the least recently synced book goes, and a retry on its sale is read again, never refused', async () => {
    const first = hold('sale-0');
    const kept = hold('sale-1');
    expect(await retry('sale-0')).toEqual(first);
    expect(await retry('sale-1')).toEqual(kept);
    for (let i = 2; i < BOOKS_KEPT; i++) await retry(`sale-${i}`);
    // sale-1's book is synced again (its refresh is due): it moves to the back of the line.
    const synced = reads.length;
    expect(await retry('sale-1', Date.now() + REFRESH_MS)).toEqual(kept);
    await settled();
    expect(reads.length).toBe(synced + 1);

    // One sale more than the board keeps: sale-0's book, synced longest ago, goes.
    await retry(`sale-${BOOKS_KEPT}`);
    const before = reads.length;
    expect(board.earlierAttempt('sale-0', 'buyer', 'key-sale-0', 0)).toBeUndefined(); // memory cannot tell: the caller asks the database
    expect(await retry('sale-0')).toEqual(first);
    expect(reads.length).toBe(before + 1);
    // sale-1's book stayed (no new read), and a key that never held is refused from it.
    expect(board.earlierAttempt('sale-1', 'buyer', 'key-sale-1', 0)).toEqual(kept);
    expect(board.earlierAttempt('sale-1', 'buyer', 'another-key', 0)).toBeNull();
    expect(reads.length).toBe(before + 1);
  });
});
