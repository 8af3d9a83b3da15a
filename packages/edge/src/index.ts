export * from './routes';
export * from './haproxy';
export * from './process';
