export * from './claims';
export * from './authenticator';
export * from './revocations';
