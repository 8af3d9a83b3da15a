import { DueSignal, type Job, type ServiceContext } from '@flash/runtime';
import type { StockBreaches, StockKeeper, StockOptions } from './keeper';

export interface StockSignals {
  expiry: DueSignal;
  orphans: DueSignal;
  audit: DueSignal;
}

/** What wakes a StockKeeper's jobs; hand `stockDue(signals)` to its options. */
export const stockSignals = (): StockSignals => ({ expiry: new DueSignal(), orphans: new DueSignal(), audit: new DueSignal() });

export const stockDue = (signals: StockSignals) => ({ expiry: signals.expiry.dueIn, orphans: signals.orphans.dueIn, audit: signals.audit.dueIn });

/**
 * A StockKeeper's background jobs, run by the service that owns the stock: reservations past their hold and gives a
 * dead request left unapplied (`stock expiry`), counter entries of requests that died before the ledger recorded them
 * (`stock orphans`, from memory of what the counter was seen holding; it reads every counter once at start-up), and
 * the stocks this process changed, once quiet (`stock audit`).
 */
export function stockJobs(stock: StockKeeper, signals: StockSignals, { metrics, logger }: Pick<ServiceContext, 'metrics' | 'logger'>): Omit<Job, 'recheckMs'>[] {
  const done = metrics.counter('stock_sweeper_total', 'What the stock jobs did', ['action']);
  const count = (counts: Record<string, number>) => {
    for (const [action, n] of Object.entries(counts)) if (n) done.inc({ action }, n);
    if (Object.values(counts).some(Boolean)) logger.info(counts, 'stock jobs');
  };
  const breaches = metrics.gauge('stock_invariant_breaches', 'Stocks whose last audit found the ledger unbalanced or the counter disagreeing with the quiet ledger', ['check']);
  const checks = stock.auditChecks;
  for (const check of checks) breaches.set({ check }, 0);
  let last: StockBreaches = { ledger: 0, counter: 0 };
  return [
    {
      name: 'stock expiry', signal: signals.expiry,
      run: async () => {
        const { expired, applied, dueInMs } = await stock.expireDue();
        count({ expired, applied });
        return dueInMs;
      },
    },
    {
      name: 'stock orphans', signal: signals.orphans,
      run: async () => {
        const { settled, dueInMs } = await stock.settleOrphans();
        count({ settled });
        return dueInMs;
      },
    },
    {
      name: 'stock audit', signal: signals.audit,
      run: async () => {
        const { dueInMs, ...found } = await stock.auditChanged();
        for (const check of checks) {
          if (found[check] > last[check]) logger.error({ check, stocks: found[check] }, 'stock invariant breached');
          breaches.set({ check }, found[check]);
        }
        last = found;
        return dueInMs;
      },
    },
  ];
}

/**
 * Counts the counters this process wrote from the ledger (StockOptions.onRebuilt) as
 * `stock_counter_rebuilds_total{reason="new"|"rebuilt"}`: a rebuilt one means Redis lost it (or it was torn or stale).
 */
export function countRebuilds(metrics: ServiceContext['metrics']): NonNullable<StockOptions['onRebuilt']> {
  const rebuilt = metrics.counter('stock_counter_rebuilds_total', "Stock counters written from the ledger: a stock's first (new), or after Redis lost one (rebuilt)", ['reason']);
  return (_stockId, first) => rebuilt.inc({ reason: first ? 'new' : 'rebuilt' });
}
