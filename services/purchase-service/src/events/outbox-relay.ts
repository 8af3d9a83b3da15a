import type { Logger } from 'pino';
import { IsNull, type DataSource } from 'typeorm';
import type { Dapr } from '@flash/dapr';
import { PUBSUB } from '@flash/runtime';
import { OutboxEntity } from '../data/entities';

/**
 * Publishes the events written with their state change (the outbox), so a crash between the database commit and the
 * publish loses nothing: delivery is at-least-once, and consumers are idempotent (by purchase id).
 */
export class OutboxRelay {
  private flushing?: Promise<number>;

  constructor(
    private readonly db: DataSource,
    private readonly dapr: Dapr,
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
      await this.dapr.publish(PUBSUB, row.topic, JSON.parse(row.payload));
      await outbox.update({ id: row.id }, { publishedAt: new Date() });
    }
    if (pending.length) this.logger.debug({ published: pending.length }, 'outbox published');
    return pending.length;
  }
}
