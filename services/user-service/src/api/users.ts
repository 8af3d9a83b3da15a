import { Router } from 'express';
import { bearerAuth, principalOf, type Authenticator } from '@flash/auth';
import { handle, jsonContent, parseInput, problemResponse, z, type Metrics, type OpenAPIRegistry } from '@flash/http';
import type { Accounts } from '../domain/accounts';
import { PasswordChangeBody, Profile, ProfileChangesBody, ResendBody, SignupBody, VerificationBody } from './schemas';

/** The caller's orders and wishlist, from order-service (asked with the caller's own token). */
export type ShoppingOf = (authorization: string) => Promise<{ orders: unknown[]; wishlist: unknown[] }>;

export function usersRouter(accounts: Accounts, auth: Authenticator, docs: OpenAPIRegistry, metrics: Metrics, shoppingOf: ShoppingOf): Router {
  const signups = metrics.counter('signups_total', 'Accounts created (unverified)');
  const verifications = metrics.counter('email_verifications_total', 'Emails verified');
  const security = bearerAuth(docs);
  const tags = ['accounts'];
  docs.registerPath({
    method: 'post', path: '/api/users', tags, summary: 'Sign up; a verification code is emailed',
    request: { body: jsonContent(SignupBody) },
    responses: {
      202: { description: 'Account created, unverified; the code is on its way' },
      400: problemResponse('VALIDATION_FAILED, with one message per bad field'),
      409: problemResponse('EMAIL_TAKEN'),
    },
  });
  docs.registerPath({
    method: 'post', path: '/api/users/verification', tags, summary: 'Verify the email with the emailed code',
    request: { body: jsonContent(VerificationBody) },
    responses: {
      200: { description: 'Verified; the account can log in' },
      400: problemResponse('INVALID_CODE or VALIDATION_FAILED'),
      410: problemResponse('CODE_USED or CODE_EXPIRED'),
    },
  });
  docs.registerPath({
    method: 'post', path: '/api/users/verification/resend', tags, summary: 'Email a new code (same answer whether or not the email exists)',
    request: { body: jsonContent(ResendBody) },
    responses: { 202: { description: 'If the account exists and is unverified, a new code is on its way' }, 400: problemResponse('VALIDATION_FAILED') },
  });
  docs.registerPath({
    method: 'get', path: '/api/users/me', tags, summary: 'My profile, decrypted for me only', security,
    responses: { 200: { description: 'Profile', ...jsonContent(Profile) }, 401: problemResponse('not logged in') },
  });
  docs.registerPath({
    method: 'patch', path: '/api/users/me', tags, summary: 'Edit my profile', security,
    request: { body: jsonContent(ProfileChangesBody) },
    responses: { 200: { description: 'Profile', ...jsonContent(Profile) }, 400: problemResponse('VALIDATION_FAILED'), 401: problemResponse('not logged in') },
  });
  docs.registerPath({
    method: 'put', path: '/api/users/me/password', tags, summary: 'Change my password; logs out every session', security,
    request: { body: jsonContent(PasswordChangeBody) },
    responses: {
      204: { description: 'Changed; every session is logged out' },
      400: problemResponse('VALIDATION_FAILED'),
      401: problemResponse('not logged in'),
      403: problemResponse('WRONG_CURRENT_PASSWORD'),
    },
  });

  docs.registerPath({
    method: 'get', path: '/api/users/me/page', tags, security, summary: 'My page: my profile, my orders and my wishlist',
    responses: {
      200: {
        description: 'Profile (decrypted for me), orders newest first, wishlist',
        ...jsonContent(z.object({ profile: Profile, orders: z.array(z.object({}).passthrough()), wishlist: z.array(z.object({}).passthrough()) })),
      },
      401: problemResponse('not logged in'),
    },
  });

  const router = Router();
  router.post('/api/users', handle(async (req, res) => {
    await accounts.signup(parseInput(SignupBody, req.body));
    signups.inc();
    res.status(202).json({ status: 'VERIFICATION_SENT' });
  }));
  router.post('/api/users/verification', handle(async (req, res) => {
    const { email, code } = parseInput(VerificationBody, req.body);
    await accounts.verifyEmail(email, code);
    verifications.inc();
    res.json({ status: 'VERIFIED' });
  }));
  router.post('/api/users/verification/resend', handle(async (req, res) => {
    accounts.requestNewCode(parseInput(ResendBody, req.body).email);
    res.status(202).json({ status: 'ACCEPTED' });
  }));
  router.get('/api/users/me', auth.requireUser, handle(async (_req, res) => {
    res.json(await accounts.profile(principalOf(res).userId));
  }));
  router.get('/api/users/me/page', auth.requireUser, handle(async (req, res) => {
    const [profile, shopping] = await Promise.all([accounts.profile(principalOf(res).userId), shoppingOf(req.headers.authorization!)]);
    res.json({ profile, ...shopping });
  }));
  router.patch('/api/users/me', auth.requireUser, handle(async (req, res) => {
    res.json(await accounts.updateProfile(principalOf(res).userId, parseInput(ProfileChangesBody, req.body)));
  }));
  router.put('/api/users/me/password', auth.requireUser, handle(async (req, res) => {
    const { currentPassword, newPassword } = parseInput(PasswordChangeBody, req.body);
    await accounts.changePassword(principalOf(res).userId, currentPassword, newPassword);
    res.status(204).end();
  }));
  return router;
}
