import { z } from '@flash/http';

const name = z.string().trim().min(1, 'is required').max(100, 'must be at most 100 characters');
const email = z.string().trim().max(254, 'must be at most 254 characters').email('must be a valid email address');

/** At least 8 characters, a digit, a special character, no whitespace: one message naming what is missing. */
export const password = z.string().superRefine((value, ctx) => {
  const missing = [
    value.length < 8 && 'at least 8 characters',
    value.length > 128 && 'at most 128 characters',
    !/\d/.test(value) && 'a digit',
    !/[^A-Za-z0-9\s]/.test(value) && 'a special character',
  ].filter(Boolean);
  const problems = [...(missing.length ? [`needs ${missing.join(', ')}`] : []), ...(/\s/.test(value) ? ['must not contain spaces'] : [])];
  if (problems.length) ctx.addIssue({ code: 'custom', message: `password ${problems.join('; ')}` });
});

const phone = z.string().trim().regex(/^0\d{1,2}-\d{3,4}-\d{4}$/, 'must look like 010-1234-5678');
const address = z.string().trim().min(1, 'is required').max(300, 'must be at most 300 characters');
const description = z.string().trim().max(1000, 'must be at most 1000 characters');
const profileImageUrl = z.string().url('must be an http(s) URL').max(2000).regex(/^https?:\/\//, 'must be an http(s) URL');

export const SignupBody = z
  .object({
    name,
    email,
    password,
    phone,
    address,
    description: description.optional(),
    profileImageUrl: profileImageUrl.optional(),
  })
  .openapi('Signup');

export const VerificationBody = z.object({ email, code: z.string().regex(/^\d{6}$/, 'must be the 6-digit code') }).openapi('Verification');
export const ResendBody = z.object({ email }).openapi('VerificationResend');
export const PasswordResetRequestBody = z.object({ email }).openapi('PasswordResetRequest');
export const PasswordResetBody = z
  .object({ email, code: z.string().regex(/^\d{6}$/, 'must be the 6-digit code'), newPassword: password })
  .openapi('PasswordReset');

export const ProfileChangesBody = z
  .object({ name, phone, address, description, profileImageUrl })
  .partial()
  .strict('only name, phone, address, description and profileImageUrl can be changed here')
  .openapi('ProfileChanges');

export const PasswordChangeBody = z
  .object({ currentPassword: z.string().min(1, 'is required').max(128), newPassword: password })
  .openapi('PasswordChange');

export const Profile = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    email: z.string(),
    phone: z.string().optional(),
    address: z.string().optional(),
    description: z.string().optional(),
    profileImageUrl: z.string().optional(),
    role: z.enum(['customer', 'admin']),
    verified: z.boolean(),
    createdAt: z.string().datetime(),
  })
  .openapi('Profile');

export const LoginBody = z.object({ email, password: z.string().min(1, 'is required').max(128) }).openapi('Login');
export const RefreshBody = z.object({ refreshToken: z.string().min(1, 'is required').max(200) }).openapi('Refresh');

export const TokenPair = z
  .object({
    accessToken: z.string(),
    refreshToken: z.string(),
    tokenType: z.literal('Bearer'),
    expiresIn: z.number().int().openapi({ description: 'seconds the access token lives' }),
  })
  .openapi('TokenPair');

export const Jwks = z
  .object({ keys: z.array(z.object({ kty: z.string(), kid: z.string(), alg: z.string() }).passthrough()) })
  .openapi('Jwks');
