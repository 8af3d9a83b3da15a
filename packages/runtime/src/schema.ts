import type { EntityManager, EntitySchema, ObjectLiteral } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';

/** Table options of every table our migrations create (the databases are made utf8mb4_unicode_ci too). */
export const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci';

/** TypeORM column transformer: mysql2 reads BIGINT as a string; our amounts and ids fit a number. */
export const bigintAsNumber = { from: Number, to: (v: unknown) => v };

/** Whether a database write failed on a unique key (MySQL/MariaDB ER_DUP_ENTRY). */
export const isDuplicateKey = (err: unknown): boolean => (err as { code?: string } | null)?.code === 'ER_DUP_ENTRY';

/** Whether InnoDB rolled the transaction back to break a deadlock (safe to run again). */
export const isDeadlock = (err: unknown): boolean => (err as { code?: string } | null)?.code === 'ER_LOCK_DEADLOCK';

/**
 * One multi-row INSERT and nothing else: TypeORM's `insert` may read generated columns back afterwards, a round trip
 * the hot path does not need (callers set every column they later read).
 */
export async function insertRows<T extends ObjectLiteral>(tx: EntityManager, entity: EntitySchema<T>, rows: QueryDeepPartialEntity<T>[]): Promise<void> {
  if (!rows.length) return;
  await tx.createQueryBuilder().insert().into(entity).values(rows).updateEntity(false).execute();
}
