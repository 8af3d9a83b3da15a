export * from './provider';
export * from './gateway';
export * from './simulated';
export * from './config';
export * from './answers';
