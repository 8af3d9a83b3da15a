/** One slice of a stock counter, stored under its own state key. */
export interface ShardValue {
  /** Units free to take from this shard. */
  available: number;
  /** The counter's generation; a rebuild from the ledger starts a new one. */
  generation: number;
  /**
   * Movements applied here whose fate the ledger has not settled yet: op id → units (negative when taken) and when.
   * An entry makes its movement idempotent, and lets the orphan job (StockKeeper.settleOrphans) undo a movement whose request died before recording it.
   */
  ops: Record<string, ShardEntry>;
}

export interface ShardEntry {
  units: number;
  at: number;
  /**
   * The process that made the entry, as `<replica>/<boot>` (see ShardedCounterOptions.owner): an entry of an earlier
   * life of the replica that now runs is an orphan at once, with no need to wait for it to grow old.
   */
  by?: string;
}

export type Mutation =
  | { kind: 'take'; opId: string; max: number }
  | { kind: 'give'; opId: string; units: number }
  | { kind: 'settle'; opId: string; undo: boolean };

/**
 * Applies one mutation to a shard value in place and returns its result: units taken (take), whether it changed
 * anything (give, settle). Every mutation is idempotent by op id.
 */
export function applyMutation(shard: ShardValue, m: Mutation, now: number, by?: string): number | boolean {
  const existing = shard.ops[m.opId];
  switch (m.kind) {
    case 'take': {
      if (existing) return -existing.units;
      const units = Math.min(m.max, shard.available);
      if (units <= 0) return 0;
      shard.available -= units;
      shard.ops[m.opId] = { units: -units, at: now, ...(by ? { by } : {}) };
      return units;
    }
    case 'give':
      if (existing) return false;
      shard.available += m.units;
      shard.ops[m.opId] = { units: m.units, at: now, ...(by ? { by } : {}) };
      return true;
    case 'settle':
      if (!existing) return false;
      if (m.undo) shard.available -= existing.units;
      delete shard.ops[m.opId];
      return true;
  }
}

/** Splits `units` over `count` shards as evenly as possible. */
export function spread(units: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => Math.floor(units / count) + (i < units % count ? 1 : 0));
}
