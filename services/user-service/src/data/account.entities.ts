import { EntitySchema } from 'typeorm';
import { bigintAsNumber } from '@flash/runtime';
import type { RefreshToken, Session, SigningKey, VerificationCode } from '../domain/user';

export const SessionEntity = new EntitySchema<Session>({
  name: 'Session',
  tableName: 'sessions',
  columns: {
    id: { type: 'char', length: 36, primary: true },
    userId: { name: 'user_id', type: 'char', length: 36 },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3 },
    revokedAt: { name: 'revoked_at', type: 'datetime', precision: 3, nullable: true },
    revokedReason: { name: 'revoked_reason', type: 'varchar', length: 32, nullable: true },
  },
});

export const RefreshTokenEntity = new EntitySchema<RefreshToken>({
  name: 'RefreshToken',
  tableName: 'refresh_tokens',
  columns: {
    tokenHash: { name: 'token_hash', type: 'char', length: 64, primary: true },
    sessionId: { name: 'session_id', type: 'char', length: 36 },
    expiresAt: { name: 'expires_at', type: 'datetime', precision: 3 },
    usedAt: { name: 'used_at', type: 'datetime', precision: 3, nullable: true },
  },
});

export const VerificationCodeEntity = new EntitySchema<VerificationCode>({
  name: 'VerificationCode',
  tableName: 'verification_codes',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    userId: { name: 'user_id', type: 'char', length: 36 },
    purpose: { type: 'varchar', length: 16, default: 'verify-email' },
    codeDigest: { name: 'code_digest', type: 'char', length: 64 },
    expiresAt: { name: 'expires_at', type: 'datetime', precision: 3 },
    consumedAt: { name: 'consumed_at', type: 'datetime', precision: 3, nullable: true },
    replacedAt: { name: 'replaced_at', type: 'datetime', precision: 3, nullable: true },
    failedAttempts: { name: 'failed_attempts', type: 'int', default: 0 },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3, createDate: true },
  },
});

export const SigningKeyEntity = new EntitySchema<SigningKey>({
  name: 'SigningKey',
  tableName: 'signing_keys',
  columns: {
    kid: { type: 'varchar', length: 64, primary: true },
    publicJwk: { name: 'public_jwk', type: 'text' },
    privateJwk: { name: 'private_jwk', type: 'text' },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3 },
    retiredAt: { name: 'retired_at', type: 'datetime', precision: 3, nullable: true },
  },
});
