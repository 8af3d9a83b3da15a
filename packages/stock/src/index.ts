export * from './shard';
export * from './sharded-counter';
