export * from './errors';
export * from './problem';
export * from './validation';
export * from './config';
export * from './logging';
export * from './metrics';
export * from './openapi';
export * from './service';
