import { DueSignal, type Job, type ServiceContext } from '@flash/runtime';
import type { StockKeeper, StockOptions } from './keeper';

export interface StockSignals {
  expiry: DueSignal;
  orphans: DueSignal;
}

/** What wakes a StockKeeper's jobs; hand `stockDue(signals)` to its options. */
export const stockSignals = (): StockSignals => ({ expiry: new DueSignal(), orphans: new DueSignal() });

export const stockDue = (signals: StockSignals) => ({ expiry: signals.expiry.dueIn, orphans: signals.orphans.dueIn });

/**
 * A StockKeeper's background jobs, run by the service that owns the stock: reservations past their hold and gives a
 * dead request left unapplied (`stock expiry`), counter entries of requests that died before the ledger recorded them
 * (`stock orphans`, from memory of what the counter was seen holding; it reads every counter once at start-up).
 */
export function stockJobs(stock: StockKeeper, signals: StockSignals, { metrics, logger }: Pick<ServiceContext, 'metrics' | 'logger'>): Omit<Job, 'recheckMs'>[] {
  const done = metrics.counter('stock_sweeper_total', 'What the stock jobs did', ['action']);
  const count = (counts: Record<string, number>) => {
    for (const [action, n] of Object.entries(counts)) if (n) done.inc({ action }, n);
    if (Object.values(counts).some(Boolean)) logger.info(counts, 'stock jobs');
  };
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
