import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { AppError, lostConnectionCode } from '@flash/http';
import { retryLater } from '@flash/runtime';
import { CounterMissingError, type Part, type ShardedCounter } from './sharded-counter';

export type ReservationStatus = 'RESERVED' | 'COMMITTED' | 'RELEASED' | 'EXPIRED' | 'RETURNED';

export interface Reservation {
  id: string;
  stockId: string;
  quantity: number;
  status: ReservationStatus;
  expiresAt: Date;
  createdAt: Date;
}

export type MovementKind = 'set' | 'reserve' | 'commit' | 'release' | 'expire' | 'return' | 'void';

/** One line of the stock ledger: the counters are the sum of these. */
export interface Movement {
  id: number;
  stockId: string;
  opId: string;
  kind: MovementKind;
  /** Change to the units free to sell. */
  availableDelta: number;
  /** Change to the units sold. */
  soldDelta: number;
  reservationId: string | null;
  /** For movements that add units: when they reached the counter. */
  appliedAt: Date | null;
  createdAt: Date;
}

export type NewMovement = Pick<Movement, 'stockId' | 'opId' | 'kind' | 'availableDelta' | 'soldDelta' | 'reservationId'>;

export interface StockLedger {
  reservation(id: string): Promise<Reservation | undefined>;
  /**
   * Records units taken (and the reservations they are for) if the counter generation is still current, with whatever
   * `alsoWrite` writes in the same transaction (the owner's own rows: purchases for a flash sale).
   */
  recordTake(
    movement: NewMovement,
    generation: number,
    reservations?: Omit<Reservation, 'createdAt'>[],
    alsoWrite?: (tx: EntityManager) => Promise<void>,
  ): Promise<'recorded' | 'duplicate' | 'stale'>;
  /**
   * RESERVED → COMMITTED with their movements; any other state is returned as it is, a missing reservation not at all.
   * In `tx` when given (the caller's own rows commit with it), else in a transaction of its own.
   */
  commit(reservationIds: string[], tx?: EntityManager): Promise<Map<string, ReservationStatus>>;
  /**
   * RESERVED → RELEASED/EXPIRED with movements giving the units back, in one transaction; per reservation found, its
   * status now and (released) the op id of the movement that gave its units back.
   */
  release(reservationIds: string[], as: 'RELEASED' | 'EXPIRED'): Promise<Map<string, { status: ReservationStatus; opId?: string; stockId: string }>>;
  /** COMMITTED → RETURNED with a movement taking the units out of sold and giving them back; returns the status now. */
  returnSold(reservationId: string): Promise<{ status: ReservationStatus; opId?: string; stockId: string } | undefined>;
  /** Records a movement that adds units, not yet applied to the counter. */
  recordGive(movement: NewMovement): Promise<void>;
  /** With the movements locked: runs `give` with those not applied yet (if any) and marks them applied. */
  applyGive(opIds: string[], give: (movements: Movement[]) => Promise<void>): Promise<void>;
  /** How the ledger settled an op: recorded, voided, or not at all yet. */
  fate(opId: string): Promise<'recorded' | 'void' | undefined>;
  /** Marks an op void unless it was recorded meanwhile; true when this call voided it. */
  voidOp(stockId: string, opId: string): Promise<boolean>;
  dueReservations(now: Date, limit: number): Promise<Reservation[]>;
  unappliedGives(createdBefore: Date, limit: number): Promise<Movement[]>;
  /** When the next reservation runs out, and when the oldest give not yet applied was recorded (index lookups). */
  nextDue(): Promise<{ reservationExpiresAt?: Date; oldestUnappliedGiveAt?: Date }>;
  /** One consistent read: free units (every movement, applied or not), sold, held, and gives not yet applied. */
  totals(stockId: string): Promise<LedgerTotals>;
  /**
   * Under the stock owner's row lock, with every unapplied give counted as applied: hands `sync` the units free to sell
   * according to the ledger and the current generation; `sync` returns the new generation it wrote, if it wrote one.
   */
  rebuild(stockId: string, sync: (ledger: { available: number; generation: number }) => Promise<number | undefined>): Promise<void>;
  /** Every stock (the owner's rows). */
  allStocks(): Promise<string[]>;
}

export interface LedgerTotals {
  available: number;
  sold: number;
  reserved: number;
  unappliedGives: number;
}

export interface StockOptions {
  /** What a stock belongs to, in messages: "Product", "Flash sale". */
  what: string;
  defaultHoldSeconds: number;
  /** After this long, a counter entry the ledger has not settled belongs to a dead request and is settled (settleOrphans). */
  orphanAfterMs: number;
  /** Told after this process changed a stock's free units (e.g. to drop a snapshot of them). */
  onChange?: (stockId: string) => void;
  /**
   * Told after this process wrote a stock's counter from the ledger: `first` for a new stock's first counter, else a
   * rebuild (Redis lost it, or it was torn or older than the ledger).
   */
  onRebuilt?: (stockId: string, first: boolean) => void;
  /** The units a stock holds in all, where that is fixed (a flash sale's quantity): free + held + sold must equal it. */
  total?: (stockId: string) => Promise<number | undefined>;
  /** Wakes the jobs that run expireDue, settleOrphans and auditChanged when this process makes work for them (in so many ms). */
  due?: { expiry(delayMs: number): void; orphans(delayMs: number): void; audit(delayMs: number): void };
}

/** A stock this process changed is audited this long after, when it has likely gone quiet (else again as long after). */
const AUDIT_AFTER_MS = 2000;

/** How many stocks the last audits found broken: the ledger not adding up to the total, the counter not agreeing with a quiet ledger. */
export interface StockBreaches {
  ledger: number;
  counter: number;
}

/** What one audit found; `busy` when a movement was in flight, so the counter and the ledger could not be compared. */
export type AuditFinding = { ledgerBalances: boolean; counterAgrees: boolean } | 'busy';

/** Due rows one run handles at most; a full batch is followed by another run at once. */
const DUE_BATCH = 500;

/** A counter as one read saw it: units free, and takes applied to it that the ledger has not recorded yet. */
export interface CounterLevel {
  available: number;
  /** Take entries still in the shards: their holds are not committed yet (or their process died mid-take). */
  takesInFlight: number;
}

export interface StockLevels {
  stockId: string;
  /** Live units free to sell, from the counter. */
  available: number;
  reserved: number;
  sold: number;
}

export const INSUFFICIENT_STOCK = 'INSUFFICIENT_STOCK';

/** A batch's own rows collided with rows written meanwhile (unique keys): nothing was kept; decide again and retry. */
export class BatchConflictError extends Error {
  constructor(readonly stockId: string) {
    super(`a batch of reservations for ${stockId} collided with a concurrent write`);
    this.name = 'BatchConflictError';
  }
}

/** One unit request in a batch: its reservation id and how long the hold lasts. */
export interface BatchRequest {
  reservationId: string;
  holdSeconds: number;
}
const insufficient = (stockId: string, quantity: number) =>
  new AppError(409, INSUFFICIENT_STOCK, 'Insufficient stock', `Fewer than ${quantity} units of ${stockId} are available.`);
const reservationConflict = (id: string) =>
  new AppError(409, 'RESERVATION_CONFLICT', 'Reservation id reused', `Reservation ${id} exists for other stock or another quantity.`);
const alreadyReleased = (id: string, status: ReservationStatus) =>
  new AppError(409, 'RESERVATION_RELEASED', 'Reservation no longer held', `Reservation ${id} is ${status}.`);

const baseOp = (partId: string) => partId.split('#')[0]!;

/**
 * An orphan still there once due has no fate in the ledger yet (a give being applied), or the run came a moment
 * early: it is looked at again after this.
 */
const ORPHAN_RECHECK_MS = 1000;

/**
 * Stock (a product's, a flash sale's): a sharded counter in the state store for speed, a MySQL ledger for truth. Units leave the counter
 * first (so it never goes negative) and are recorded second; an entry in the shard bridges the two until settled.
 */
export class StockKeeper {
  private scannedAtStart = false;
  /** Stocks this process changed and has not audited since → when their audit falls due (ms). */
  private readonly auditAt = new Map<string, number>();
  /** Stocks whose last audit found a breach, audited again on every run until it is gone. */
  private readonly breached = { ledger: new Set<string>(), counter: new Set<string>() };

  constructor(
    private readonly counter: ShardedCounter,
    private readonly ledger: StockLedger,
    private readonly options: StockOptions,
  ) {
    counter.watchUnsettled((oldestAt) => options.due?.orphans(oldestAt + options.orphanAfterMs - Date.now()));
  }

  /** Holds `quantity` units for a reservation; retrying with the same id never takes units twice. */
  async reserve(stockId: string, quantity: number, reservationId: string, holdSeconds?: number): Promise<Reservation> {
    const existing = await this.ledger.reservation(reservationId);
    if (existing) return this.sameReservation(existing, stockId, quantity);
    const opId = `r:${reservationId}:${randomUUID().slice(0, 8)}`;
    const parts = await this.withCounter(stockId, () => this.counter.take(stockId, opId, quantity));
    if (!parts) throw insufficient(stockId, quantity);
    const reservation: Reservation = {
      id: reservationId, stockId, quantity, status: 'RESERVED',
      expiresAt: new Date(Date.now() + (holdSeconds ?? this.options.defaultHoldSeconds) * 1000), createdAt: new Date(),
    };
    const outcome = await this.recordTake(parts, {
      stockId, opId, kind: 'reserve', availableDelta: -quantity, soldDelta: 0, reservationId,
    }, [reservation]);
    if (outcome === 'duplicate') {
      // A concurrent call with the same id won: ours is undone, theirs is the answer.
      const winner = await this.ledger.reservation(reservationId);
      if (winner) return this.sameReservation(winner, stockId, quantity);
      throw AppError.unavailable('The reservation could not be recorded; retry with the same id.');
    }
    this.options.due?.expiry(reservation.expiresAt.getTime() - Date.now());
    return reservation;
  }

  /**
   * Group commit: one unit for as many of `requests` as there are units, in order, with one counter take and one ledger
   * transaction for the whole batch; `record` writes the owner's rows for the held ones in that same transaction, so a
   * unit is never held without its owner's record (or the reverse). Returns the reservation ids that got a unit.
   */
  async reserveBatch(stockId: string, requests: BatchRequest[], record: (tx: EntityManager, held: BatchRequest[]) => Promise<void>): Promise<string[]> {
    if (!requests.length) return [];
    const opId = `b:${randomUUID()}`;
    const parts = await this.withCounter(stockId, () => this.counter.takeUpTo(stockId, opId, requests.length));
    const units = parts.reduce((sum, p) => sum + p.units, 0);
    if (!units) return [];
    const held = requests.slice(0, units);
    const now = Date.now();
    const reservations = held.map((r) => ({
      id: r.reservationId, stockId, quantity: 1, status: 'RESERVED' as const, expiresAt: new Date(now + r.holdSeconds * 1000),
    }));
    const outcome = await this.recordTake(parts, {
      stockId, opId, kind: 'reserve', availableDelta: -units, soldDelta: 0, reservationId: null,
    }, reservations, (tx) => record(tx, held));
    if (outcome === 'duplicate') throw new BatchConflictError(stockId);
    return held.map((r) => r.reservationId);
  }

  async commit(reservationId: string): Promise<Reservation> {
    await this.commitIn(undefined, reservationId);
    return (await this.ledger.reservation(reservationId))!;
  }

  /** Sells a held reservation's units in the caller's transaction `tx`: they are sold if and when it commits. */
  async commitIn(tx: EntityManager | undefined, reservationId: string): Promise<void> {
    const status = (await this.commitManyIn(tx, [reservationId])).get(reservationId);
    if (!status) throw AppError.notFound(`Reservation ${reservationId}`);
    if (status !== 'COMMITTED') throw alreadyReleased(reservationId, status);
  }

  /**
   * Sells held reservations in the caller's transaction `tx` (a batch of payments): each one's status after it,
   * COMMITTED for those sold (now or before), missing for a reservation that does not exist.
   */
  commitManyIn(tx: EntityManager | undefined, reservationIds: string[]): Promise<Map<string, ReservationStatus>> {
    return reservationIds.length ? this.ledger.commit(reservationIds, tx) : Promise.resolve(new Map());
  }

  /** Gives a held reservation's units back, exactly once however often it is called. */
  async release(reservationId: string, as: 'RELEASED' | 'EXPIRED' = 'RELEASED'): Promise<Reservation> {
    const released = (await this.releaseMany([reservationId], as)).get(reservationId)!;
    if (released instanceof AppError) throw released;
    return (await this.ledger.reservation(reservationId))!;
  }

  /**
   * Gives held reservations' units back, each exactly once however often it is called: one ledger transaction, and
   * one counter write per shard, for all of them. Per id: its status now, or why it has nothing to give back (an
   * AppError: no such reservation, or RESERVATION_COMMITTED when it is sold).
   */
  async releaseMany(reservationIds: string[], as: 'RELEASED' | 'EXPIRED' = 'RELEASED'): Promise<Map<string, ReservationStatus | AppError>> {
    const outcomes = new Map<string, ReservationStatus | AppError>();
    if (!reservationIds.length) return outcomes;
    const released = await this.ledger.release(reservationIds, as);
    const gives = new Map<string, string[]>();
    for (const id of reservationIds) {
      const found = released.get(id);
      if (!found) outcomes.set(id, AppError.notFound(`Reservation ${id}`));
      else if (found.status === 'COMMITTED') outcomes.set(id, new AppError(409, 'RESERVATION_COMMITTED', 'Reservation already committed', `Reservation ${id} is sold.`));
      else outcomes.set(id, found.status);
      if (found?.opId) gives.set(found.stockId, [...(gives.get(found.stockId) ?? []), found.opId]);
    }
    for (const [stockId, opIds] of gives) await this.applyGive(stockId, opIds);
    return outcomes;
  }

  /** Sold units come back (a cancelled or returned order): exactly once however often it is called. */
  async returnSold(reservationId: string): Promise<Reservation> {
    const returned = await this.ledger.returnSold(reservationId);
    if (!returned) throw AppError.notFound(`Reservation ${reservationId}`);
    if (!returned.opId) throw new AppError(409, 'RESERVATION_NOT_SOLD', 'Reservation not sold', `Reservation ${reservationId} is ${returned.status}.`);
    await this.applyGive(returned.stockId, [returned.opId]);
    return (await this.ledger.reservation(reservationId))!;
  }

  /** Sets the units free to sell (admin). Units held by reservations are not counted and not touched. */
  async setAvailable(stockId: string, quantity: number): Promise<StockLevels> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const { available } = await this.withCounter(stockId, () => this.counter.read(stockId));
      const delta = quantity - available;
      const opId = `s:${randomUUID()}`;
      const movement: NewMovement = { stockId, opId, kind: 'set', availableDelta: delta, soldDelta: 0, reservationId: null };
      if (delta > 0) {
        await this.ledger.recordGive(movement);
        await this.applyGive(stockId, [opId]);
      } else if (delta < 0) {
        const parts = await this.withCounter(stockId, () => this.counter.take(stockId, opId, -delta));
        if (!parts || (await this.recordTake(parts, movement)) !== 'recorded') continue;
      }
      return this.levels(stockId);
    }
    throw AppError.unavailable('Stock kept changing while it was being set; try again.');
  }

  /** The ledger's own view, which balances in every transaction (the counter may lag by in-flight movements). */
  async ledgerTotals(stockId: string): Promise<{ available: number; reserved: number; sold: number }> {
    const { available, reserved, sold } = await this.ledger.totals(stockId);
    return { available, reserved, sold };
  }

  /** Units free to sell now, from the counter alone (no ledger query). */
  async available(stockId: string): Promise<number> {
    return (await this.withCounter(stockId, () => this.counter.read(stockId))).available;
  }

  /**
   * Units free and takes not yet recorded, from one counter read. A read with no take in flight proves every unit
   * taken before it is in the ledger, committed with whatever the taker wrote beside it.
   */
  async level(stockId: string): Promise<CounterLevel> {
    const { available, shards } = await this.withCounter(stockId, () => this.counter.read(stockId));
    const takesInFlight = shards.reduce((n, s) => n + Object.values(s.ops).filter((e) => e.units < 0).length, 0);
    return { available, takesInFlight };
  }

  async levels(stockId: string): Promise<StockLevels> {
    const { available } = await this.withCounter(stockId, () => this.counter.read(stockId));
    const { sold, reserved } = await this.ledger.totals(stockId);
    return { stockId, available, reserved, sold };
  }

  /** Writes the counter from the ledger unless it is intact: a new stock's first counter, or what Redis lost. */
  async rebuildCounter(stockId: string): Promise<void> {
    let rebuilt: { first: boolean } | undefined;
    await this.ledger.rebuild(stockId, async ({ available, generation }) => {
      try {
        if ((await this.counter.read(stockId)).generation === generation) return undefined;
      } catch (err) {
        if (!(err instanceof CounterMissingError)) throw err;
      }
      // Owner rows start at generation 1 (entities.ts) with no counter yet.
      rebuilt = { first: generation === 1 };
      await this.counter.reset(stockId, available, generation + 1);
      return generation + 1;
    });
    if (rebuilt) {
      this.options.onRebuilt?.(stockId, rebuilt.first);
      this.options.onChange?.(stockId);
    }
  }

  /**
   * Expires reservations past their hold and finishes gives a dead request left unapplied: only rows that are due,
   * through the ledger's indexes. Resolves what it did and how long until the next of them falls due: while nothing is
   * due, a run is one statement of index lookups.
   */
  async expireDue(now = new Date()): Promise<{ expired: number; applied: number; dueInMs?: number }> {
    const next = await this.ledger.nextDue();
    const times = [next.reservationExpiresAt?.getTime(), next.oldestUnappliedGiveAt && next.oldestUnappliedGiveAt.getTime() + this.options.orphanAfterMs]
      .filter((t): t is number => t !== undefined);
    const dueAt = Math.min(...times);
    if (dueAt > now.getTime()) return { expired: 0, applied: 0, ...(dueAt < Infinity ? { dueInMs: dueAt - now.getTime() } : {}) };
    const due = await this.ledger.dueReservations(now, DUE_BATCH);
    const released = await this.releaseMany(due.map((r) => r.id), 'EXPIRED');
    const expired = [...released.values()].filter((status) => status === 'EXPIRED').length;
    const unapplied = await this.ledger.unappliedGives(new Date(now.getTime() - this.options.orphanAfterMs), DUE_BATCH);
    const unappliedOps = new Map<string, string[]>();
    for (const m of unapplied) unappliedOps.set(m.stockId, [...(unappliedOps.get(m.stockId) ?? []), m.opId]);
    for (const [stockId, opIds] of unappliedOps) await this.applyGive(stockId, opIds);
    // The next run finds when the next of them falls due (or more that are due already).
    return { expired, applied: unapplied.length, dueInMs: 0 };
  }

  /** What auditChanged checks: the ledger against a total only where stocks have one. */
  get auditChecks(): (keyof StockBreaches)[] {
    return this.options.total ? ['ledger', 'counter'] : ['counter'];
  }

  /**
   * Audits the stocks this process changed, once each has likely gone quiet, and again those whose last audit found a
   * breach: the ledger's free, held and sold units add up to the stock's total (where it has one), and the counter
   * agrees with the ledger while nothing is in flight. While nothing changes and nothing is broken, a run does nothing.
   */
  async auditChanged(now = Date.now()): Promise<StockBreaches & { dueInMs?: number }> {
    const due = [...this.auditAt].filter(([, at]) => at <= now).map(([stockId]) => stockId);
    for (const stockId of new Set([...due, ...this.breached.ledger, ...this.breached.counter])) {
      // Taken off first: a change made while this audit runs plans another.
      this.auditAt.delete(stockId);
      const found = await this.audit(stockId);
      if (found === 'busy') {
        this.auditAt.set(stockId, now + AUDIT_AFTER_MS);
        continue;
      }
      for (const [set, broken] of [[this.breached.ledger, !found.ledgerBalances], [this.breached.counter, !found.counterAgrees]] as const) {
        if (broken) set.add(stockId);
        else set.delete(stockId);
      }
    }
    const next = Math.min(...this.auditAt.values());
    return {
      ledger: this.breached.ledger.size, counter: this.breached.counter.size, ...(next < Infinity ? { dueInMs: Math.max(0, next - now) } : {}),
    };
  }

  /**
   * One stock's audit. The counter is read before and after the ledger: an entry in either read, a change between
   * them or a give not yet applied means a movement was in flight (`busy`), since counter and ledger agree only at rest.
   */
  async audit(stockId: string): Promise<AuditFinding> {
    const read = () => this.counter.read(stockId).catch((err: unknown) => {
      if (err instanceof CounterMissingError) return undefined;
      throw err;
    });
    const inFlight = (c: { shards: { ops: object }[] }) => c.shards.some((s) => Object.keys(s.ops).length > 0);
    const before = await read();
    if (before && inFlight(before)) return 'busy';
    const ledger = await this.ledger.totals(stockId);
    const after = before && (await read());
    if (ledger.unappliedGives > 0) return 'busy';
    if (after && (inFlight(after) || after.available !== before!.available || after.generation !== before!.generation)) return 'busy';
    const total = await this.options.total?.(stockId);
    return {
      ledgerBalances: total === undefined || ledger.available + ledger.reserved + ledger.sold === total,
      // A counter Redis lost has nothing to disagree with: its next use rebuilds it from the ledger.
      counterAgrees: !before || !after || before.available === ledger.available,
    };
  }

  /**
   * Settles counter entries of requests that died between the counter and the ledger, once they are older than
   * `orphanAfterMs`. Only counters seen holding entries are looked at (the counter remembers them as this process reads
   * and writes them); the first call, at start-up, reads every counter once, for entries a crashed process left.
   */
  async settleOrphans(now = Date.now()): Promise<{ settled: number; dueInMs?: number }> {
    if (!this.scannedAtStart) {
      for (const stockId of await this.ledger.allStocks()) {
        await this.counter.read(stockId).catch((err: unknown) => {
          if (!(err instanceof CounterMissingError)) throw err;
        });
      }
      this.scannedAtStart = true;
    }
    const before = now - this.options.orphanAfterMs;
    let settled = 0;
    for (const stockId of this.counter.unsettledBefore(before)) settled += await this.settleOrphansOf(stockId, before);
    const oldest = this.counter.oldestUnsettled();
    if (oldest === undefined) return { settled };
    const dueInMs = oldest + this.options.orphanAfterMs - Date.now();
    return { settled, dueInMs: dueInMs > 0 ? dueInMs : ORPHAN_RECHECK_MS };
  }

  private async settleOrphansOf(stockId: string, before: number): Promise<number> {
    let shards;
    try {
      ({ shards } = await this.counter.read(stockId));
    } catch (err) {
      if (err instanceof CounterMissingError) return 0;
      throw err;
    }
    let settled = 0;
    for (const [shard, value] of shards.entries()) {
      for (const [partId, entry] of Object.entries(value.ops)) {
        if (this.counter.madeAt(entry) > before) continue;
        const op = baseOp(partId);
        const fate = entry.units < 0 ? await this.decide(stockId, op) : await this.ledger.fate(op);
        if (!fate) continue;
        // A give the counter has but the ledger was never told of (its process died between the two): the ledger
        // records it as applied first, or the job that finishes unapplied gives would give it again once this entry,
        // the counter's only memory of it, is gone.
        if (entry.units > 0 && fate === 'recorded') await this.ledger.applyGive([op], async () => undefined);
        await this.counter.settle(stockId, [{ shard, opId: partId }], fate === 'void');
        settled++;
      }
    }
    return settled;
  }

  /**
   * What became of a take whose request cannot tell: recorded, or void. With no movement yet it is voided now, and the
   * unique op id makes that final: a commit still on its way can no longer land.
   */
  private async decide(stockId: string, op: string): Promise<'recorded' | 'void' | undefined> {
    return (await this.ledger.fate(op)) ?? ((await this.ledger.voidOp(stockId, op)) ? 'void' : await this.ledger.fate(op));
  }

  /** Keeps or undoes a take's parts once the ledger answers again (a database restarting); the orphan job is the net. */
  private settleWhenDecided(stockId: string, op: string, parts: Part[]): void {
    retryLater(async () => {
      const fate = await this.decide(stockId, op);
      if (!fate) throw new Error(`op ${op} not decided yet`);
      if (fate === 'recorded') this.changed(stockId);
      await this.counter.settle(stockId, parts, fate === 'void');
    });
  }

  private async recordTake(
    parts: Part[],
    movement: NewMovement,
    reservations?: Omit<Reservation, 'createdAt'>[],
    alsoWrite?: (tx: EntityManager) => Promise<void>,
  ) {
    // Parts of different generations were taken across a rebuild: not recorded, like a take from an old counter.
    const generation = parts.every((p) => p.generation === parts[0]!.generation) ? parts[0]!.generation : -1;
    const outcome = await this.ledger.recordTake(movement, generation, reservations, alsoWrite).catch(async (err: unknown) => {
      const code = lostConnectionCode(err);
      if (code === undefined || code === 'ECONNREFUSED') {
        // Nothing reached the database, or it rolled the transaction back: the units go back.
        await this.counter.settle(movement.stockId, parts, true);
        throw err;
      }
      // The connection died with the transaction, maybe after its commit: giving the units back blindly could sell
      // them twice. The ledger decides, as it does for an orphan (now, or as soon as it answers again).
      const fate = await this.decide(movement.stockId, movement.opId).catch(() => undefined);
      if (fate === 'recorded') return 'recorded' as const;
      if (fate === 'void') await this.counter.settle(movement.stockId, parts, true);
      else this.settleWhenDecided(movement.stockId, movement.opId, parts);
      throw err;
    });
    if (outcome === 'recorded') {
      this.changed(movement.stockId);
      // Recorded units stay taken whatever happens to this cleanup; a leftover entry is settled by settleOrphans.
      this.counter.settle(movement.stockId, parts, false).catch(() => undefined);
      return outcome;
    }
    await this.counter.settle(movement.stockId, parts, true);
    if (outcome === 'stale') {
      // The counter is of another generation than the ledger's: make sure it is rebuilt before the retry comes (a
      // counter brought back whole from before a rebuild would otherwise refuse every take).
      await this.rebuildCounter(movement.stockId);
      throw AppError.unavailable('Stock was being rebuilt; retry with the same id.');
    }
    return outcome;
  }

  /**
   * Gives the units of recorded movements to the counter, each once: one counter write per shard for all of them. If
   * that fails for a moment (the sidecar restarting), it is tried again soon, not only once the unapplied-gives job
   * finds the movements (orphanAfterMs later): until then the counter shows fewer units than are free.
   */
  private async applyGive(stockId: string, opIds: string[]): Promise<void> {
    try {
      await this.giveToCounter(stockId, opIds);
    } catch (err) {
      if (!(err instanceof AppError)) retryLater(() => this.giveToCounter(stockId, opIds));
      throw err;
    }
  }

  private async giveToCounter(stockId: string, opIds: string[]): Promise<void> {
    let parts: Part[] = [];
    await this.withCounter(stockId, () =>
      this.ledger.applyGive(opIds, async (movements) => {
        // Every give finishes (or fails) before the movements' locks go: none is still on its way when they are released.
        const given = await Promise.allSettled(movements.map((m) => this.counter.give(stockId, m.opId, m.availableDelta)));
        const failed = given.find((g) => g.status === 'rejected');
        if (failed) throw failed.reason;
        parts = given.map((g) => (g as PromiseFulfilledResult<Part>).value);
      }),
    );
    if (parts.length) {
      this.changed(stockId);
      await this.counter.settle(stockId, parts, false);
    }
  }

  /** This process changed a stock's free units: whoever shows them is told, and the stock is audited once quiet. */
  private changed(stockId: string): void {
    this.options.onChange?.(stockId);
    if (this.auditAt.has(stockId)) return;
    this.auditAt.set(stockId, Date.now() + AUDIT_AFTER_MS);
    this.options.due?.audit(AUDIT_AFTER_MS);
  }

  /** Runs a counter operation; if Redis lost the counter, rebuilds it from the ledger and runs it again. */
  private async withCounter<T>(stockId: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (err) {
      if (!(err instanceof CounterMissingError)) throw err;
      await this.rebuildCounter(stockId);
    }
    try {
      return await operation();
    } catch (err) {
      // A rebuild writes a counter for every stock the ledger knows: still missing means there is no such stock.
      if (err instanceof CounterMissingError) throw AppError.notFound(`${this.options.what} ${stockId}`);
      throw err;
    }
  }

  private sameReservation(existing: Reservation, stockId: string, quantity: number): Reservation {
    if (existing.stockId !== stockId || existing.quantity !== quantity) throw reservationConflict(existing.id);
    return existing;
  }
}
