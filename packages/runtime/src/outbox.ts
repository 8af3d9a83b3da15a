import type { Logger } from 'pino';
import { EntitySchema, type DataSource, type EntityManager } from 'typeorm';
import type { Dapr } from '@flash/dapr';
import type { Metrics } from '@flash/http';
import { DueSignal, type Job } from './jobs';
import { bigintAsNumber, insertRows, TABLE_OPTIONS } from './schema';

export interface OutboxRow {
  id: number;
  topic: string;
  payload: string;
  createdAt: Date;
  publishedAt: Date | null;
}

export const OutboxEntity = new EntitySchema<OutboxRow>({
  name: 'Outbox',
  tableName: 'outbox',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    topic: { type: 'varchar', length: 100 },
    payload: { type: 'text' },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3, createDate: true },
    publishedAt: { name: 'published_at', type: 'datetime', precision: 3, nullable: true },
  },
});

/** For a service's migration. */
export const OUTBOX_TABLE = `CREATE TABLE outbox (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  topic VARCHAR(100) NOT NULL,
  payload TEXT NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  published_at DATETIME(3) NULL,
  KEY outbox_pending (published_at, id)
) ${TABLE_OPTIONS}`;

/** Writes an event in the same transaction as the change it announces. */
export async function addToOutbox(tx: EntityManager, events: { topic: string; data: Record<string, unknown> }[]): Promise<void> {
  await insertRows(tx, OutboxEntity, events.map(({ topic, data }) => ({ topic, payload: JSON.stringify(data) })));
}

/** Rows one relay run publishes at most; a full batch is followed by another run at once. */
const RELAY_BATCH = 200;

/**
 * Publishes the events written with their state change (the outbox), so a crash between the database commit and the
 * publish loses nothing: delivery is at-least-once, and consumers are idempotent (by purchase id). A job: it runs when
 * this process announces what it wrote, and otherwise only to re-check (events a replica left when it died, publishes
 * that failed); the pending rows are found through the `outbox_pending` index, however many were published before.
 */
export class OutboxRelay {
  private readonly signal = new DueSignal();
  /** When the oldest event the relay last saw waiting was written (undefined: none waiting). */
  private oldestWaitingSince?: number;

  constructor(
    private readonly db: DataSource,
    private readonly dapr: Dapr,
    private readonly pubsub: string,
    private readonly logger: Logger,
    metrics: Metrics,
  ) {
    // The backlog's age from what the relay's runs already read: a scrape costs no query, and the age keeps growing
    // while the relay cannot publish (a sidecar down, a publish refused).
    metrics.gauge('outbox_oldest_pending_seconds', 'Age of the oldest event written and not yet published (0: none waiting)', [], (gauge) =>
      gauge.set(this.oldestWaitingSince === undefined ? 0 : Math.max(0, Date.now() - this.oldestWaitingSince) / 1000));
  }

  /** A transaction just wrote events: the relay publishes them now (without the caller waiting for it). */
  readonly announce = (): void => this.signal.dueIn();

  job(): Omit<Job, 'recheckMs'> {
    return { name: 'outbox relay', signal: this.signal, run: () => this.publishPending() };
  }

  /**
   * Publishes pending events oldest first, each run of events of one topic in one call to the sidecar (bulk publish);
   * a failed publish stops the run (the job tries again shortly).
   */
  private async publishPending(): Promise<number | undefined> {
    // Plain SQL: a run follows every payment (TypeORM's query building would cost as much as the round trip).
    const pending = ((await this.db.query(
      `SELECT id, topic, payload, created_at FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT ${RELAY_BATCH}`,
    )) as { id: string | number; topic: string; payload: string; created_at: Date }[]).map((r) => ({ ...r, id: Number(r.id), createdAt: r.created_at }));
    this.oldestWaitingSince = pending[0]?.createdAt.getTime();
    const published = new Set<number>();
    try {
      for (let from = 0; from < pending.length;) {
        let to = from + 1;
        while (to < pending.length && pending[to]!.topic === pending[from]!.topic) to++;
        const rows = pending.slice(from, to);
        const failed = new Set(await this.dapr.publishMany(this.pubsub, rows[0]!.topic, rows.map((r) => JSON.parse(r.payload) as object)));
        rows.forEach((r, i) => !failed.has(i) && published.add(r.id));
        if (failed.size) throw new Error(`${failed.size} of ${rows.length} ${rows[0]!.topic} events were not published`);
        from = to;
      }
    } finally {
      if (published.size) await this.db.query('UPDATE outbox SET published_at = ? WHERE id IN (?)', [new Date(), [...published]]);
      // A full batch published: the next run, at once, sees what waits behind it.
      this.oldestWaitingSince = pending.find((r) => !published.has(r.id))?.createdAt.getTime();
    }
    if (pending.length) this.logger.debug({ published: pending.length }, 'outbox published');
    return pending.length === RELAY_BATCH ? 0 : undefined;
  }
}
