export * from './routes';
export * from './nginx';
export * from './process';
