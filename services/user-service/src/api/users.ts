import type { Router } from 'express';
import { bearerAuth, principalOf, userOnlyResponses, type Authenticator } from '@flash/auth';
import { ApiRoutes, clientAddress, handle, jsonContent, parseInput, problemResponse, retryLaterResponse, z, type ApiTag, type Metrics, type OpenAPIRegistry } from '@flash/http';
import type { Accounts } from '../domain/accounts';
import {
  PasswordChangeBody, PasswordResetBody, PasswordResetRequestBody, Profile, ProfileChangesBody, ResendBody, SignupBody, VerificationBody,
} from './schemas';

const ACCOUNTS: ApiTag = { name: 'accounts', description: 'Sign-up, email verification, password reset, my profile and my page' };
const tooMany = retryLaterResponse('TOO_MANY_ATTEMPTS: past a limit of this address or this email; wait Retry-After seconds');
const busy = retryLaterResponse('SERVICE_UNAVAILABLE: too many password hashes at once');

/** The caller's orders and wishlist, from order-service (asked with the caller's own token). */
export type ShoppingOf = (authorization: string) => Promise<{ orders: unknown[]; wishlist: unknown[] }>;

export function usersRouter(accounts: Accounts, auth: Authenticator, docs: OpenAPIRegistry, metrics: Metrics, shoppingOf: ShoppingOf): Router {
  const signups = metrics.counter('signups_total', 'Accounts created (unverified)');
  const verifications = metrics.counter('email_verifications_total', 'Emails verified');
  const resets = metrics.counter('password_resets_total', 'Passwords reset with an emailed code');
  const security = bearerAuth(docs);
  const status = <T extends string>(value: T) => jsonContent(z.object({ status: z.literal(value) }));
  return new ApiRoutes(docs, ACCOUNTS)
    .post('/api/users', {
      operationId: 'signUp', summary: 'Sign up; a verification code is emailed',
      description:
        'Creates an unverified account and emails a 6-digit code, valid for 5 minutes. The account can log in once the email is verified. An email already registered gets the same answer, and its owner an email saying someone tried (no account enumeration). An address may sign up 30 times in 10 minutes.',
      request: { body: jsonContent(SignupBody) },
      responses: {
        202: { description: 'Account created, unverified, and the code is on its way; or the email was registered and its owner is told', ...status('VERIFICATION_SENT') },
        400: problemResponse('VALIDATION_FAILED, with one message per bad field'),
        429: tooMany,
        503: busy,
      },
    }, handle(async (req, res) => {
      await accounts.signup(parseInput(SignupBody, req.body), clientAddress(req));
      signups.inc();
      res.status(202).json({ status: 'VERIFICATION_SENT' });
    }))
    .post('/api/users/verification', {
      operationId: 'verifyEmail', summary: 'Verify the email with the emailed code',
      description: 'A code works once and burns after 5 wrong guesses; an email gets 20 guesses a day whatever the number of codes sent.',
      request: { body: jsonContent(VerificationBody) },
      responses: {
        200: { description: 'Verified; the account can log in', ...status('VERIFIED') },
        400: problemResponse('INVALID_CODE or VALIDATION_FAILED'),
        410: problemResponse('CODE_USED or CODE_EXPIRED'),
        429: tooMany,
      },
    }, handle(async (req, res) => {
      const { email, code } = parseInput(VerificationBody, req.body);
      await accounts.verifyEmail(email, code);
      verifications.inc();
      res.json({ status: 'VERIFIED' });
    }))
    .post('/api/users/verification/resend', {
      operationId: 'resendVerificationCode', summary: 'Email a new verification code',
      description:
        'Replaces (deletes) the previous code. The answer is the same whether or not the email belongs to an account. An email may ask 3 times an hour, an address 20 times an hour (resends and password resets together).',
      request: { body: jsonContent(ResendBody) },
      responses: {
        202: { description: 'If the account exists and is unverified, a new code is on its way', ...status('ACCEPTED') },
        400: problemResponse('VALIDATION_FAILED'),
        429: tooMany,
      },
    }, handle(async (req, res) => {
      await accounts.requestNewCode(parseInput(ResendBody, req.body).email, clientAddress(req));
      res.status(202).json({ status: 'ACCEPTED' });
    }))
    .post('/api/users/password-reset', {
      operationId: 'requestPasswordReset', summary: 'Email a password reset code',
      description:
        'Emails a 6-digit code, valid for 5 minutes, that sets a new password. The answer is the same whether or not the email belongs to an account; the limits are those of verification resends.',
      request: { body: jsonContent(PasswordResetRequestBody) },
      responses: {
        202: { description: 'If the account exists, a reset code is on its way', ...status('ACCEPTED') },
        400: problemResponse('VALIDATION_FAILED'),
        429: tooMany,
      },
    }, handle(async (req, res) => {
      await accounts.requestPasswordReset(parseInput(PasswordResetRequestBody, req.body).email, clientAddress(req));
      res.status(202).json({ status: 'ACCEPTED' });
    }))
    .post('/api/users/password-reset/confirm', {
      operationId: 'resetPassword', summary: 'Set a new password with the emailed reset code; logs out every session',
      description: 'The code works once and burns after 5 wrong guesses; an email gets 20 guesses a day. Every session of the account is logged out.',
      request: { body: jsonContent(PasswordResetBody) },
      responses: {
        200: { description: 'The new password is set; every session is logged out', ...status('PASSWORD_RESET') },
        400: problemResponse('INVALID_CODE or VALIDATION_FAILED'),
        410: problemResponse('CODE_USED or CODE_EXPIRED'),
        429: tooMany,
        503: busy,
      },
    }, handle(async (req, res) => {
      const { email, code, newPassword } = parseInput(PasswordResetBody, req.body);
      await accounts.resetPassword(email, code, newPassword);
      resets.inc();
      res.json({ status: 'PASSWORD_RESET' });
    }))
    .get('/api/users/me', {
      operationId: 'getMyProfile', summary: 'My profile', security,
      description: 'The caller\'s profile, decrypted for the caller only.',
      responses: { 200: { description: 'Profile', ...jsonContent(Profile) }, ...userOnlyResponses },
    }, auth.requireUser, handle(async (_req, res) => {
      res.json(await accounts.profile(principalOf(res).userId));
    }))
    .get('/api/users/me/page', {
      operationId: 'getMyPage', summary: 'My page: my profile, my orders and my wishlist', security,
      description: 'One call for the my-page screen: the profile, the orders newest first and the wishlist.',
      responses: {
        200: {
          description: 'Profile (decrypted for me), orders newest first, wishlist',
          ...jsonContent(z.object({ profile: Profile, orders: z.array(z.object({}).passthrough()), wishlist: z.array(z.object({}).passthrough()) })),
        },
        ...userOnlyResponses,
      },
    }, auth.requireUser, handle(async (req, res) => {
      const [profile, shopping] = await Promise.all([accounts.profile(principalOf(res).userId), shoppingOf(req.headers.authorization!)]);
      res.json({ profile, ...shopping });
    }))
    .patch('/api/users/me', {
      operationId: 'updateMyProfile', summary: 'Edit my profile', security,
      description: 'Changes only the fields given; the email and the password are changed elsewhere.',
      request: { body: jsonContent(ProfileChangesBody) },
      responses: { 200: { description: 'Profile', ...jsonContent(Profile) }, 400: problemResponse('VALIDATION_FAILED'), ...userOnlyResponses },
    }, auth.requireUser, handle(async (req, res) => {
      res.json(await accounts.updateProfile(principalOf(res).userId, parseInput(ProfileChangesBody, req.body)));
    }))
    .put('/api/users/me/password', {
      operationId: 'changeMyPassword', summary: 'Change my password; logs out every session', security,
      description: 'Needs the current password. Every session, this one included, is logged out.',
      request: { body: jsonContent(PasswordChangeBody) },
      responses: {
        204: { description: 'Changed; every session is logged out' },
        400: problemResponse('VALIDATION_FAILED'),
        ...userOnlyResponses,
        403: problemResponse('WRONG_CURRENT_PASSWORD'),
        503: busy,
      },
    }, auth.requireUser, handle(async (req, res) => {
      const { currentPassword, newPassword } = parseInput(PasswordChangeBody, req.body);
      await accounts.changePassword(principalOf(res).userId, currentPassword, newPassword);
      res.status(204).end();
    }))
    .router;
}
