import type { PurchaseStore } from './ports';

/** Purchases deleted per statement: a backlog is worked off in short transactions, not one long one. */
const PURGE_BATCH = 500;

/**
 * Deletes purchases that ended unpaid more than `retentionMs` ago; resolves how long until the next one is due (none:
 * undefined). It reads one index entry when nothing is due, so an idle shop pays next to nothing for it.
 */
export async function purgeUnpaidPurchases(store: PurchaseStore, retentionMs: number, now = Date.now()): Promise<{ purged: number; dueInMs?: number }> {
  const purged = await store.purgeUnpaid(new Date(now - retentionMs), PURGE_BATCH);
  if (purged === PURGE_BATCH) return { purged, dueInMs: 0 };
  const oldest = await store.oldestUnpaid();
  return { purged, dueInMs: oldest ? Math.max(0, oldest.getTime() + retentionMs - now) : undefined };
}
