export * from './paths';
export * from './processes';
export * from './sidecar';
export * from './database';
export * from './testing';
export * from './mail';
export * from './local-stack';
export * from './api-client';
