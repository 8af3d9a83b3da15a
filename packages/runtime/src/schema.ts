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
 * One multi-row INSERT and nothing else, written from the entity's column metadata: TypeORM's insert builder reads
 * generated columns back (a round trip the hot path does not need: callers set every column they later read), and
 * building its query cost ~10 % of purchase-service's CPU under a crowd (a CPU profile of `npm run bench -- capacity`).
 * Values go through the driver's own conversion (transformers, dates, JSON); a column a row leaves out gets its default.
 */
export async function insertRows<T extends ObjectLiteral>(tx: EntityManager, entity: EntitySchema<T>, rows: QueryDeepPartialEntity<T>[]): Promise<void> {
  if (!rows.length) return;
  const { driver } = tx.connection;
  const table = tx.connection.getMetadata(entity);
  const columns = table.columns.filter((c) => rows.some((row) => c.getEntityValue(row) !== undefined));
  const params: unknown[] = [];
  const tuples = rows.map((row) => `(${columns.map((c) => {
    const value = c.getEntityValue(row) as unknown;
    if (value === undefined) return 'DEFAULT';
    params.push(driver.preparePersistentValue(value, c));
    return '?';
  }).join(', ')})`);
  const names = columns.map((c) => driver.escape(c.databaseName)).join(', ');
  await tx.query(`INSERT INTO ${driver.escape(table.tableName)} (${names}) VALUES ${tuples.join(', ')}`, params);
}
