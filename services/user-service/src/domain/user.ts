import type { Role } from '@flash/auth';

export type { Role };

export interface PersonalData {
  name: string;
  email: string;
  phone?: string;
  address?: string;
  description?: string;
  profileImageUrl?: string;
}

export interface User {
  id: string;
  emailIndex: string;
  /** PersonalData, sealed by PersonalDataVault with the user id as context. */
  personalData: string;
  passwordHash: string;
  role: Role;
  verifiedAt: Date | null;
  createdAt: Date;
}

/** One login on one device: the family of refresh tokens that rotate from it. */
export interface Session {
  id: string;
  userId: string;
  createdAt: Date;
  revokedAt: Date | null;
  revokedReason: string | null;
}

export interface RefreshToken {
  /** SHA-256 of the token; the token itself is only ever in the client's hands. */
  tokenHash: string;
  sessionId: string;
  expiresAt: Date;
  /** Set when the token was exchanged for the next one; a second use is a theft signal. */
  usedAt: Date | null;
}

/** What an emailed code proves: the address of a new account, or the right to set a new password. */
export type CodePurpose = 'verify-email' | 'reset-password';

export interface VerificationCode {
  id: number;
  userId: string;
  purpose: CodePurpose;
  /** HMAC of user id and code. */
  codeDigest: string;
  expiresAt: Date;
  consumedAt: Date | null;
  /** Set when too many wrong guesses burned it (a newer code deletes it). */
  replacedAt: Date | null;
  failedAttempts: number;
  createdAt: Date;
}

export interface SigningKey {
  kid: string;
  /** Public JWK, JSON. */
  publicJwk: string;
  /** Private JWK, sealed by PersonalDataVault with the kid as context. */
  privateJwk: string;
  createdAt: Date;
  retiredAt: Date | null;
}
