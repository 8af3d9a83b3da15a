import { In, IsNull, LessThan, MoreThan, type DataSource, type EntityManager } from 'typeorm';
import { insertRows, isDeadlock, isDuplicateKey } from '@flash/runtime';
import type { Movement, NewMovement, Reservation, ReservationStatus, StockLedger } from './keeper';
import { MovementEntity, ReservationEntity } from './entities';

/**
 * The ledger in the owning service's database: `stock_reservations`, `stock_movements` (see stockLedgerTables) and
 * a `stock_generation` column on the owner's table (products, flash_sales).
 */
export class MySqlStockLedger implements StockLedger {
  constructor(
    private readonly db: DataSource,
    private readonly ownerTable: string,
  ) {}

  private async generationOf(tx: EntityManager, stockId: string, lock: 'FOR UPDATE' | 'LOCK IN SHARE MODE') {
    const rows = (await tx.query(`SELECT stock_generation AS generation FROM ${this.ownerTable} WHERE id = ? ${lock}`, [stockId])) as { generation: number }[];
    return rows[0]?.generation;
  }

  async reservation(id: string): Promise<Reservation | undefined> {
    return (await this.db.getRepository(ReservationEntity).findOneBy({ id })) ?? undefined;
  }

  async recordTake(
    movement: NewMovement,
    generation: number,
    reservations: Omit<Reservation, 'createdAt'>[] = [],
    alsoWrite?: (tx: EntityManager) => Promise<void>,
  ) {
    try {
      return await this.db.transaction(async (tx) => {
        if ((await this.generationOf(tx, movement.stockId, 'LOCK IN SHARE MODE')) !== generation) return 'stale' as const;
        const now = new Date();
        if (reservations.length) await insertRows(tx, ReservationEntity, reservations.map((r) => ({ ...r, createdAt: now })));
        await insertRows(tx, MovementEntity, [{ ...movement, appliedAt: now, createdAt: now }]);
        await alsoWrite?.(tx);
        return 'recorded' as const;
      });
    } catch (err) {
      // Concurrent batches collided (unique keys, or InnoDB chose this one as a deadlock victim): nothing was kept.
      if (isDuplicateKey(err) || isDeadlock(err)) return 'duplicate' as const;
      throw err;
    }
  }

  async commit(reservationIds: string[], within?: EntityManager): Promise<Map<string, ReservationStatus>> {
    // Plain SQL: this runs inside every payment batch, where TypeORM's per-statement cost showed (see purchase-service's
    // PurchaseRepository). Rows locked in id order, as every batch takes them.
    const commit = async (tx: EntityManager): Promise<Map<string, ReservationStatus>> => {
      const found = await lockReservations(tx, reservationIds);
      const selling = found.filter((r) => r.status === 'RESERVED');
      if (selling.length) {
        await setStatus(tx, selling, 'COMMITTED');
        const appliedAt = new Date();
        await insertRows(tx, MovementEntity, selling.map((r) => ({
          stockId: r.stock_id, opId: `c:${r.id}`, kind: 'commit' as const, availableDelta: 0, soldDelta: r.quantity, reservationId: r.id, appliedAt,
        })));
      }
      return new Map(found.map((r) => [r.id, r.status === 'RESERVED' ? 'COMMITTED' : r.status]));
    };
    return within ? commit(within) : this.db.transaction(commit);
  }

  async release(reservationIds: string[], as: 'RELEASED' | 'EXPIRED') {
    // Plain SQL, rows locked in id order, as commit: a batch of abandons and failed payments gives its units back here.
    return this.db.transaction(async (tx) => {
      const found = await lockReservations(tx, reservationIds);
      const releasing = found.filter((r) => r.status === 'RESERVED');
      if (releasing.length) {
        await setStatus(tx, releasing, as);
        await insertRows(tx, MovementEntity, releasing.map((r) => ({
          stockId: r.stock_id, opId: `l:${r.id}`, kind: as === 'EXPIRED' ? 'expire' as const : 'release' as const, availableDelta: r.quantity,
          soldDelta: 0, reservationId: r.id,
        })));
      }
      return new Map(found.map((r) => {
        const status = r.status === 'RESERVED' ? as : r.status;
        const released = status === 'RELEASED' || status === 'EXPIRED';
        return [r.id, { status, stockId: r.stock_id, ...(released ? { opId: `l:${r.id}` } : {}) }];
      }));
    });
  }

  async returnSold(reservationId: string) {
    return this.db.transaction(async (tx) => {
      const reservations = tx.getRepository(ReservationEntity);
      const found = await reservations.findOne({ where: { id: reservationId }, lock: { mode: 'pessimistic_write' } });
      if (!found) return undefined;
      const opId = `t:${reservationId}`;
      if (found.status === 'COMMITTED') {
        await reservations.update({ id: reservationId }, { status: 'RETURNED' });
        await insertRows(tx, MovementEntity, [{
          stockId: found.stockId, opId, kind: 'return', availableDelta: found.quantity, soldDelta: -found.quantity, reservationId,
        }]);
        return { status: 'RETURNED' as ReservationStatus, opId, stockId: found.stockId };
      }
      return { status: found.status, stockId: found.stockId, ...(found.status === 'RETURNED' ? { opId } : {}) };
    });
  }

  async recordGive(movement: NewMovement): Promise<void> {
    await insertRows(this.db.manager, MovementEntity, [movement]);
  }

  async applyGive(opIds: string[], give: (movements: Movement[]) => Promise<void>): Promise<void> {
    await this.db.transaction(async (tx) => {
      const movements = tx.getRepository(MovementEntity);
      const found = await movements.find({ where: { opId: In(opIds) }, order: { opId: 'ASC' }, lock: { mode: 'pessimistic_write' } });
      const unapplied = found.filter((m) => !m.appliedAt);
      if (!unapplied.length) return;
      await give(unapplied);
      await movements.update({ id: In(unapplied.map((m) => m.id)) }, { appliedAt: new Date() });
    });
  }

  async fate(opId: string): Promise<'recorded' | 'void' | undefined> {
    const movement = await this.db.getRepository(MovementEntity).findOneBy({ opId });
    if (!movement) return undefined;
    return movement.kind === 'void' ? 'void' : 'recorded';
  }

  async voidOp(stockId: string, opId: string): Promise<boolean> {
    try {
      await insertRows(this.db.manager, MovementEntity, [{
        stockId, opId, kind: 'void', availableDelta: 0, soldDelta: 0, reservationId: null, appliedAt: new Date(),
      }]);
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async dueReservations(now: Date, limit: number): Promise<Reservation[]> {
    return this.db.getRepository(ReservationEntity).find({ where: { status: 'RESERVED', expiresAt: LessThan(now) }, take: limit });
  }

  async unappliedGives(createdBefore: Date, limit: number): Promise<Movement[]> {
    return this.db.getRepository(MovementEntity).find({
      where: { appliedAt: IsNull(), createdAt: LessThan(createdBefore), availableDelta: MoreThan(0) },
      take: limit,
    });
  }

  async totals(stockId: string) {
    const [row] = (await this.db.query(
      `SELECT COALESCE(SUM(available_delta), 0) AS available, COALESCE(SUM(sold_delta), 0) AS sold,
              (SELECT COALESCE(SUM(quantity), 0) FROM stock_reservations WHERE stock_id = ? AND status = 'RESERVED') AS reserved,
              (SELECT COUNT(*) FROM stock_movements WHERE applied_at IS NULL AND stock_id = ?) AS unapplied
         FROM stock_movements WHERE stock_id = ?`,
      [stockId, stockId, stockId],
    )) as { available: string; sold: string; reserved: string; unapplied: string }[];
    return { available: Number(row!.available), sold: Number(row!.sold), reserved: Number(row!.reserved), unappliedGives: Number(row!.unapplied) };
  }

  async rebuild(stockId: string, sync: (ledger: { available: number; generation: number }) => Promise<number | undefined>) {
    await this.db.transaction(async (tx) => {
      const generation = await this.generationOf(tx, stockId, 'FOR UPDATE');
      if (generation === undefined) return;
      const movements = tx.getRepository(MovementEntity);
      const unapplied = await movements.find({ where: { stockId, appliedAt: IsNull() }, select: { id: true }, lock: { mode: 'pessimistic_write' } });
      const [row] = (await tx.query('SELECT COALESCE(SUM(available_delta), 0) AS available FROM stock_movements WHERE stock_id = ?', [stockId])) as { available: string }[];
      const written = await sync({ available: Number(row!.available), generation });
      if (written === undefined) return;
      if (unapplied.length) await movements.update({ id: In(unapplied.map((m) => m.id)) }, { appliedAt: new Date() });
      await tx.query(`UPDATE ${this.ownerTable} SET stock_generation = ? WHERE id = ?`, [written, stockId]);
    });
  }

  async nextDue() {
    const [row] = (await this.db.query(
      `SELECT (SELECT MIN(expires_at) FROM stock_reservations WHERE status = 'RESERVED') AS reservation,
              (SELECT MIN(created_at) FROM stock_movements WHERE applied_at IS NULL) AS give`,
    )) as { reservation: Date | null; give: Date | null }[];
    return { ...(row?.reservation ? { reservationExpiresAt: row.reservation } : {}), ...(row?.give ? { oldestUnappliedGiveAt: row.give } : {}) };
  }

  async allStocks(): Promise<string[]> {
    return ((await this.db.query(`SELECT id FROM ${this.ownerTable}`)) as { id: string }[]).map((r) => r.id);
  }
}

interface LockedReservation { id: string; stock_id: string; quantity: number; status: ReservationStatus }

/**
 * Reservations locked in id order, as every batch takes them: two batches sharing rows wait, never deadlock. By the
 * primary key, always (here and in setStatus): given a long id list, MariaDB may choose to scan the table instead, and
 * a scan under FOR UPDATE locks every row it reads, other batches' too (found as deadlocks between two payment
 * batches in flight, `SHOW ENGINE INNODB STATUS`).
 */
async function lockReservations(tx: EntityManager, ids: string[]): Promise<LockedReservation[]> {
  return (await tx.query(
    `SELECT id, stock_id, quantity, status FROM stock_reservations FORCE INDEX (PRIMARY) WHERE id IN (${ids.map(() => '?').join(', ')}) ORDER BY id FOR UPDATE`,
    ids,
  )) as LockedReservation[];
}

async function setStatus(tx: EntityManager, reservations: LockedReservation[], status: ReservationStatus): Promise<void> {
  await tx.query(`UPDATE stock_reservations FORCE INDEX (PRIMARY) SET status = ? WHERE id IN (${reservations.map(() => '?').join(', ')})`, [status, ...reservations.map((r) => r.id)]);
}
