import { createHash, randomInt, randomUUID } from 'node:crypto';
import { ConcurrencyConflictError, type StateEntry, type StateStore } from '@flash/dapr';
import { retryLater } from '@flash/runtime';
import { applyMutation, spread, type Mutation, type ShardEntry, type ShardValue } from './shard';

/**
 * The counter is not whole in the state store: never created, or Redis lost some or all of its shards, or its shards
 * belong to different generations (a write that raced the loss brought an old shard back). Rebuild from the ledger.
 */
export class CounterMissingError extends Error {
  constructor(readonly counterId: string, why = 'is missing from the state store') {
    super(`stock counter ${counterId} ${why}`);
    this.name = 'CounterMissingError';
  }
}

/** Units taken from one shard under one op id. */
export interface Part {
  shard: number;
  opId: string;
  units: number;
  generation: number;
}

interface Pending {
  mutation: Mutation;
  resolve(result: { value: number | boolean; generation: number }): void;
  reject(err: unknown): void;
}

const MAX_BATCH = 256;
const MAX_ATTEMPTS = 50;

/**
 * Serialises this process's writes to one shard key and applies everything queued meanwhile in one ETag write
 * (group commit): under contention more callers share a write instead of fighting over the ETag. Writers in other
 * replicas still race through ETags; a lost race re-reads and re-applies the batch.
 */
class ShardWriter {
  private readonly queue: Pending[] = [];
  private draining = false;

  constructor(
    private readonly store: StateStore<ShardValue>,
    readonly key: string,
    /** Told what the shard holds after each write (undefined: a write whose outcome is unknown). */
    private readonly observe: (value: ShardValue | undefined) => void,
    /** Marks the entries this process makes (ShardEntry.by). */
    private readonly owner?: string,
  ) {}

  /**
   * Queues a mutation. `seen` is the shard as the caller has just read it: a writer with nothing queued starts its
   * write from it at once instead of reading again (the read it saves is as fresh as its own would be).
   */
  submit(mutation: Mutation, seen?: StateEntry<ShardValue>): Promise<{ value: number | boolean; generation: number }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ mutation, resolve, reject });
      if (!this.draining) void this.drain(seen);
    });
  }

  private async drain(seen?: StateEntry<ShardValue>): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, MAX_BATCH);
        try {
          const { results, generation } = await this.write(batch.map((p) => p.mutation), seen);
          seen = undefined;
          batch.forEach((p, i) => p.resolve({ value: results[i]!, generation }));
        } catch (err) {
          batch.forEach((p) => p.reject(err));
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async write(mutations: Mutation[], seen?: StateEntry<ShardValue>): Promise<{ results: (number | boolean)[]; generation: number }> {
    for (let attempt = 1; ; attempt++) {
      // Always read before writing (or start from the caller's read of a moment ago): Redis accepts any ETag on a
      // missing key, so a value kept from earlier could resurrect a shard that Redis lost with stale units.
      const current = attempt === 1 && seen ? seen : await this.store.get(this.key);
      if (!current) throw new CounterMissingError(this.key);
      const next: ShardValue = { ...current.value, ops: { ...current.value.ops } };
      const now = Date.now();
      const results = mutations.map((m) => applyMutation(next, m, now, this.owner));
      try {
        await this.store.save(this.key, next, current.etag);
        this.observe(next);
        return { results, generation: next.generation };
      } catch (err) {
        if (!(err instanceof ConcurrencyConflictError)) this.observe(undefined);
        if (!(err instanceof ConcurrencyConflictError) || attempt >= MAX_ATTEMPTS) throw err;
      }
    }
  }
}

export interface ShardedCounterOptions {
  shards: number;
  /** State key prefix, e.g. `stock`: keys are `<prefix>-<counter id>-<shard>`. */
  prefix: string;
  /**
   * The replica's stable name (the pod's, which survives a container restart), to mark the entries this counter makes
   * with it and an id of this start: entries of the same replica from another start were left by a process that died.
   */
  replica?: string;
}

/**
 * A stock counter split over several state keys, so concurrent buyers of one product do not all fight over one
 * ETag. Every movement carries an op id and stays visible in its shard until the ledger has settled it.
 */
export class ShardedCounter {
  private readonly writers = new Map<string, ShardWriter>();
  /** Counter id → shard → when the oldest entry it held was made, as this process last saw the shard. */
  private readonly unsettled = new Map<string, Map<number, number>>();
  private onUnsettled: (oldestAt: number) => void = () => undefined;

  constructor(
    private readonly store: StateStore<ShardValue>,
    readonly options: ShardedCounterOptions,
  ) {
    this.ownerMark = options.replica && `${options.replica}/${randomUUID().slice(0, 8)}`;
  }

  /** `<replica>/<start id>` on the entries this counter makes (ShardEntry.by). */
  private readonly ownerMark: string | undefined;

  /**
   * When an entry counts as made, for the orphan job: its time, or 0 (long ago) when an earlier start of this
   * replica made it, since that process is dead now that this one runs.
   */
  madeAt(entry: ShardEntry): number {
    const { replica } = this.options;
    return replica && entry.by?.startsWith(`${replica}/`) && entry.by !== this.ownerMark ? 0 : entry.at;
  }

  keys(counterId: string): string[] {
    return Array.from({ length: this.options.shards }, (_, i) => `${this.options.prefix}-${counterId}-${i}`);
  }

  /**
   * Every shard (with its ETag in `entries`), or CounterMissingError when any is missing or they are not all of one
   * generation.
   */
  async read(counterId: string): Promise<{ available: number; generation: number; shards: ShardValue[]; entries: StateEntry<ShardValue>[] }> {
    const found = await this.store.getMany(this.keys(counterId));
    const entries = [...found.values()];
    if (entries.some((e) => e === undefined)) throw new CounterMissingError(counterId);
    const values = entries.map((e) => e!.value);
    // Redis takes a write with any ETag on a missing key: a write that raced the loss of the keys can bring back a
    // shard of the generation before the rebuild. A torn counter is rebuilt like a lost one.
    if (values.some((v) => v.generation !== values[0]!.generation)) throw new CounterMissingError(counterId, 'has shards of different generations');
    values.forEach((value, shard) => this.observe(counterId, shard, value));
    return {
      available: values.reduce((sum, s) => sum + s.available, 0), generation: values[0]!.generation, shards: values,
      entries: entries as StateEntry<ShardValue>[],
    };
  }

  /**
   * Takes exactly `units`, from one shard when one has enough, else from several; all or nothing.
   * Returns the parts taken, or undefined when fewer units are available.
   */
  async take(counterId: string, opId: string, units: number): Promise<Part[] | undefined> {
    const parts = await this.takeUpTo(counterId, opId, units);
    if (parts.reduce((sum, p) => sum + p.units, 0) === units) return parts;
    await this.settle(counterId, parts, true);
    return undefined;
  }

  /**
   * Takes as many of `max` units as there are (a batch of buyers shares one take), from as few shards as it can.
   * Returns the parts taken: none when the counter is empty.
   */
  async takeUpTo(counterId: string, opId: string, max: number): Promise<Part[]> {
    const { shards, entries } = await this.read(counterId);
    const start = randomInt(shards.length);
    const order = shards.map((_, i) => (start + i) % shards.length).filter((i) => shards[i]!.available > 0);
    order.sort((a, b) => Number(shards[b]!.available >= max) - Number(shards[a]!.available >= max));
    const parts: Part[] = [];
    let missing = max;
    let writing: Pick<Part, 'shard' | 'opId'> | undefined;
    try {
      for (const [i, shard] of order.entries()) {
        writing = { shard, opId: `${opId}#${shard}` };
        // The first shard is written right after the read above: its write starts from that read.
        const seen = i === 0 ? entries[shard] : undefined;
        const { value, generation } = await this.writer(counterId, shard).submit({ kind: 'take', opId: writing.opId, max: missing }, seen);
        const taken = value as number;
        if (taken > 0) parts.push({ ...writing, units: taken, generation });
        missing -= taken;
        if (missing <= 0) break;
      }
    } catch (err) {
      if (err instanceof CounterMissingError || err instanceof ConcurrencyConflictError) {
        // The write was refused (Redis lost a shard, say): what the earlier shards gave goes back now. Awaited, as the
        // caller may take again under the same op id once the counter is rebuilt.
        await this.settle(counterId, parts, true).catch(() => undefined);
      } else {
        // The write's outcome is unknown (the sidecar died with it): it may have taken units too. Nobody will record
        // this take, so all of it goes back now, or as soon as the store answers again, rather than once the orphan job
        // finds it (orphanAfterMs later, the units refused as sold out meanwhile).
        const undo = [...parts, writing!];
        await this.settle(counterId, undo, true).catch(() => retryLater(() => this.settle(counterId, undo, true)));
      }
      throw err;
    }
    return parts;
  }

  /** Adds units under an op id (to the shard the op id hashes to, so a retry finds its earlier entry). */
  async give(counterId: string, opId: string, units: number): Promise<Part> {
    const shard = shardOf(opId, this.options.shards);
    const { generation } = await this.writer(counterId, shard).submit({ kind: 'give', opId, units });
    return { shard, opId, units, generation };
  }

  /** Removes the parts' entries: kept (the ledger recorded them) or undone (their units go back). */
  async settle(counterId: string, parts: Pick<Part, 'shard' | 'opId'>[], undo: boolean): Promise<void> {
    await Promise.all(parts.map((p) => this.writer(counterId, p.shard).submit({ kind: 'settle', opId: p.opId, undo })));
  }

  /**
   * Writes fresh shards holding `available` in all (a new counter, or a rebuild from the ledger), over whatever shards
   * are left. A shard once written with an ETag takes no write without one (Redis' first-write mark), so each is
   * replaced with its own ETag, or created where it is missing; a writer that races the reset makes it start over.
   */
  async reset(counterId: string, available: number, generation: number): Promise<void> {
    const units = spread(available, this.options.shards);
    const keys = this.keys(counterId);
    for (let attempt = 1; ; attempt++) {
      const current = await this.store.getMany(keys);
      try {
        await Promise.all(keys.map((key, i) => {
          const value = { available: units[i]!, generation, ops: {} };
          const found = current.get(key);
          return found ? this.store.save(key, value, found.etag) : this.store.create(key, value);
        }));
        return;
      } catch (err) {
        if (!(err instanceof ConcurrencyConflictError) || attempt >= MAX_ATTEMPTS) throw err;
      }
    }
  }

  /**
   * Tells `listener` when a shard is seen holding entries (with when the oldest was made): an entry the ledger never
   * settles belongs to a request that died, and is settled once it is old enough (StockKeeper.settleOrphans).
   */
  watchUnsettled(listener: (oldestAt: number) => void): void {
    this.onUnsettled = listener;
  }

  /** Counters whose shards were last seen holding an entry made at or before `before` (ms). */
  unsettledBefore(before: number): string[] {
    return [...this.unsettled].filter(([, shards]) => Math.min(...shards.values()) <= before).map(([counterId]) => counterId);
  }

  /** When the oldest entry seen and not seen settled since was made (ms), if any. */
  oldestUnsettled(): number | undefined {
    const oldest = Math.min(...[...this.unsettled.values()].flatMap((shards) => [...shards.values()]));
    return oldest === Infinity ? undefined : oldest;
  }

  /** Remembers whether a shard holds entries (undefined: unknown, so it may, from now). */
  private observe(counterId: string, shard: number, value: ShardValue | undefined): void {
    const times = value ? Object.values(value.ops).map((entry) => this.madeAt(entry)) : [Date.now()];
    let shards = this.unsettled.get(counterId);
    if (!times.length) {
      shards?.delete(shard);
      if (shards?.size === 0) this.unsettled.delete(counterId);
      return;
    }
    if (!shards) {
      shards = new Map();
      this.unsettled.set(counterId, shards);
    }
    const oldest = Math.min(...times);
    shards.set(shard, oldest);
    this.onUnsettled(oldest);
  }

  private writer(counterId: string, shard: number): ShardWriter {
    const key = `${this.options.prefix}-${counterId}-${shard}`;
    let writer = this.writers.get(key);
    if (!writer) {
      writer = new ShardWriter(this.store, key, (value) => this.observe(counterId, shard, value), this.ownerMark);
      this.writers.set(key, writer);
    }
    return writer;
  }
}

export function shardOf(opId: string, shards: number): number {
  return createHash('sha256').update(opId).digest().readUInt32BE(0) % shards;
}
