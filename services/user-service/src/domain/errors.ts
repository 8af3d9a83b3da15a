import { AppError } from '@flash/http';

/** The account errors callers can rely on, by stable code. */
export const AccountErrors = {
  invalidCode: () => new AppError(400, 'INVALID_CODE', 'Invalid verification code', 'The code does not match; check the email or ask for a new code.'),
  codeUsed: () => new AppError(410, 'CODE_USED', 'Verification code already used', 'This code has already been used.'),
  codeExpired: () => new AppError(410, 'CODE_EXPIRED', 'Verification code expired', 'This code has expired; ask for a new code.'),
  invalidCredentials: () =>
    new AppError(401, 'INVALID_CREDENTIALS', 'Invalid credentials', 'The email or password is wrong.', undefined, {
      'www-authenticate': 'Bearer',
    }),
  emailNotVerified: () =>
    new AppError(403, 'EMAIL_NOT_VERIFIED', 'Email not verified', 'Verify your email with the code we sent before logging in.'),
  tooManyAttempts: (retryAfterSeconds: number) =>
    new AppError(429, 'TOO_MANY_ATTEMPTS', 'Too many attempts', `Try again in ${retryAfterSeconds} s.`, undefined, {
      'retry-after': String(retryAfterSeconds),
    }),
  invalidRefreshToken: () =>
    new AppError(401, 'INVALID_REFRESH_TOKEN', 'Invalid refresh token', 'The refresh token is unknown, expired or logged out.'),
  refreshTokenReused: () =>
    new AppError(401, 'REFRESH_TOKEN_REUSED', 'Refresh token reused', 'This refresh token was already used; the session has been logged out.'),
  wrongCurrentPassword: () =>
    new AppError(403, 'WRONG_CURRENT_PASSWORD', 'Wrong current password', 'The current password is not correct.'),
};
