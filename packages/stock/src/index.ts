export * from './shard';
export * from './sharded-counter';
export * from './keeper';
export * from './entities';
export * from './mysql-ledger';
export * from './snapshots';
export * from './jobs';
