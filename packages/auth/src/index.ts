export * from './claims';
export * from './authenticator';
