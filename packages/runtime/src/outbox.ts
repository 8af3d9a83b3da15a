import type { Logger } from 'pino';
import { EntitySchema, IsNull, type DataSource, type EntityManager } from 'typeorm';
import type { Dapr } from '@flash/dapr';
import { bigintAsNumber, TABLE_OPTIONS } from './schema';

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
export async function addToOutbox(tx: EntityManager, topic: string, data: Record<string, unknown>): Promise<void> {
  await tx.getRepository(OutboxEntity).insert({ topic, payload: JSON.stringify(data) });
}

/**
 * Publishes the events written with their state change (the outbox), so a crash between the database commit and the
 * publish loses nothing: delivery is at-least-once, and consumers are idempotent (by purchase id).
 */
export class OutboxRelay {
  private flushing?: Promise<number>;

  constructor(
    private readonly db: DataSource,
    private readonly dapr: Dapr,
    private readonly pubsub: string,
    private readonly logger: Logger,
  ) {}

  /** Publishes what is pending; concurrent calls share one run. */
  flush(): Promise<number> {
    this.flushing ??= this.publishPending().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async publishPending(): Promise<number> {
    const outbox = this.db.getRepository(OutboxEntity);
    const pending = await outbox.find({ where: { publishedAt: IsNull() }, order: { id: 'ASC' }, take: 200 });
    for (const row of pending) {
      await this.dapr.publish(this.pubsub, row.topic, JSON.parse(row.payload));
      await outbox.update({ id: row.id }, { publishedAt: new Date() });
    }
    if (pending.length) this.logger.debug({ published: pending.length }, 'outbox published');
    return pending.length;
  }
}
