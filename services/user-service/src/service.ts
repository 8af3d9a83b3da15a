import type { DataSource } from 'typeorm';
import { daprAuthenticator, revocationSubscription, type RevokedSessions } from '@flash/auth';
import { DueSignal, oncePerContext, PUBSUB, STATESTORE, type ServiceContext, type ServiceParts } from '@flash/runtime';
import { SERVICE_NAME, type UserConfig } from './config';
import { authRouter } from './api/auth';
import { usersRouter } from './api/users';
import { RefreshTokenEntity, SessionEntity, SigningKeyEntity, VerificationCodeEntity } from './data/account.entities';
import { MySqlLoginThrottle } from './data/login-throttle';
import { CodePurposesAndRateLimits1764700000000 } from './data/migrations/1764700000000-CodePurposesAndRateLimits';
import { MySqlAllowance, purgeExpiredLimits } from './data/rate-limits';
import { CreateUsers1764000000000 } from './data/migrations/1764000000000-CreateUsers';
import { CreateSessionsAndCodes1764100000000 } from './data/migrations/1764100000000-CreateSessionsAndCodes';
import { PubSubRevocationBoard } from './data/revocation-board';
import { SessionRepository } from './data/session-repository';
import { SigningKeyRepository } from './data/signing-key-repository';
import { UserEntity } from './data/user.entity';
import { UserRepository } from './data/user-repository';
import { Accounts, type AccountAllowances } from './domain/accounts';
import { PasswordHasher, SCRYPT_COST } from './domain/passwords';
import { PersonalDataVault } from './domain/personal-data';
import { ensureAdmin } from './domain/seed-admin';
import { Sessions } from './domain/sessions';
import { Keyring } from './domain/signing-keys';
import { smtpMailer } from './mail/smtp-mailer';

export function userService(config: UserConfig): ServiceParts {
  const vault = personalDataVault(config);
  const revocations = new DueSignal();
  const hasher = new PasswordHasher(
    { concurrency: config.PASSWORD_HASH_CONCURRENCY, queue: config.PASSWORD_HASH_QUEUE },
    { ...SCRYPT_COST, N: config.PASSWORD_SCRYPT_N },
  );
  const parts = oncePerContext((ctx) => assemble(config, vault, hasher, ctx, () => revocations.dueIn(config.REVOCATION_REPUBLISH_SECONDS * 1000)));
  return {
    name: SERVICE_NAME,
    entities: [UserEntity, SessionEntity, RefreshTokenEntity, VerificationCodeEntity, SigningKeyEntity],
    migrations: [CreateUsers1764000000000, CreateSessionsAndCodes1764100000000, CodePurposesAndRateLimits1764700000000],
    init: async ({ dataSource, logger }) => {
      if (!config.ADMIN_EMAIL || !config.ADMIN_PASSWORD) return;
      const outcome = await ensureAdmin(new UserRepository(dataSource), vault, { email: config.ADMIN_EMAIL, password: config.ADMIN_PASSWORD }, hasher);
      logger.info({ outcome }, 'admin from configuration');
    },
    // It verifies tokens: it keeps its own marks of revoked sessions.
    subscriptions: (ctx) => [revocationSubscription(ctx.dapr.state<RevokedSessions>(STATESTORE))],
    routes: (ctx) => {
      const { accounts, sessions, keyring, auth } = parts(ctx);
      const shoppingOf = async (authorization: string) => {
        const headers = { authorization };
        const [orders, wishlist] = await Promise.all([
          ctx.dapr.invoke<{ items: unknown[] }>('order-service', 'api/orders', { headers }),
          ctx.dapr.invoke<{ items: unknown[] }>('order-service', 'api/wishlist', { headers }),
        ]);
        return { orders: orders.items, wishlist: wishlist.items };
      };
      return [usersRouter(accounts, auth, ctx.docs, ctx.metrics, shoppingOf), authRouter(sessions, keyring, auth, ctx.docs, ctx.metrics)];
    },
    jobs: (ctx) => {
      const everyMs = config.REVOCATION_REPUBLISH_SECONDS * 1000;
      return [{
        name: 'republish session revocations', signal: revocations,
        // While marks may still be needed it runs every REVOCATION_REPUBLISH_SECONDS; with none, it only re-checks
        // now and then for revocations another replica made and could not repeat.
        recheckMs: 4 * everyMs,
        run: async () => ((await parts(ctx).sessions.republishRecentRevocations()) ? everyMs : undefined),
      }, {
        name: 'expired rate limits',
        // It knows the next expiry from the table; the re-check finds counters made since it found none.
        recheckMs: 10 * 60_000,
        run: () => purgeExpiredLimits(ctx.dataSource),
      }];
    },
  };
}

/** The account use cases over this service's database, sidecar and mail server. */
function assemble(
  config: UserConfig,
  vault: PersonalDataVault,
  hasher: PasswordHasher,
  { dataSource, dapr, logger }: ServiceContext,
  revoked: () => void,
) {
  const users = new UserRepository(dataSource);
  const keyring = signingKeyring(config, dataSource, vault);
  const sessions = new Sessions(
    users,
    new SessionRepository(dataSource),
    new PubSubRevocationBoard(dapr, PUBSUB, config.ACCESS_TOKEN_TTL_SECONDS),
    new MySqlLoginThrottle(dataSource, {
      failuresPerClient: config.LOGIN_FAILURES_PER_CLIENT,
      clientWindowSeconds: config.LOGIN_CLIENT_WINDOW_SECONDS,
      freeFailures: config.LOGIN_FREE_FAILURES,
      failureWindowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
      maxDelaySeconds: config.LOGIN_MAX_DELAY_SECONDS,
    }),
    keyring,
    vault,
    hasher,
    { accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS, refreshTokenTtlSeconds: config.REFRESH_TOKEN_TTL_SECONDS, revoked },
  );
  const mailer = smtpMailer({
    host: config.SMTP_HOST,
    port: config.SMTP_PORT,
    secure: config.SMTP_SECURE,
    user: config.SMTP_USER,
    password: config.SMTP_PASSWORD,
    from: config.MAIL_FROM,
  });
  const accounts = new Accounts(users, vault, mailer, sessions, hasher, accountAllowances(config, dataSource), logger, {
    codeTtlSeconds: config.VERIFICATION_CODE_TTL_SECONDS,
  });
  return { accounts, sessions, keyring, auth: daprAuthenticator(dapr, STATESTORE) };
}

function accountAllowances(config: UserConfig, db: DataSource): AccountAllowances {
  const allowance = (name: string, points: number, windowSeconds: number) => new MySqlAllowance(db, name, points, windowSeconds);
  const day = 24 * 3600;
  const perAccount = config.CODE_REQUESTS_PER_ACCOUNT;
  const window = config.CODE_REQUEST_WINDOW_SECONDS;
  return {
    signupsPerClient: allowance('signup-client', config.SIGNUPS_PER_CLIENT, config.SIGNUP_CLIENT_WINDOW_SECONDS),
    codeRequestsPerClient: allowance('code-client', config.CODE_REQUESTS_PER_CLIENT, window),
    resendsPerAccount: allowance('resend-account', perAccount, window),
    resetsPerAccount: allowance('reset-account', perAccount, window),
    verifyGuessesPerAccount: allowance('verify-guesses', config.CODE_GUESSES_PER_DAY, day),
    resetGuessesPerAccount: allowance('reset-guesses', config.CODE_GUESSES_PER_DAY, day),
    takenNoticesPerAccount: allowance('taken-notice', 1, window),
  };
}

export function personalDataVault(config: UserConfig): PersonalDataVault {
  return new PersonalDataVault({
    current: { id: config.PII_ENCRYPTION_KEY_ID, key: config.PII_ENCRYPTION_KEY },
    retired: config.PII_RETIRED_KEYS,
    index: config.BLIND_INDEX_KEY,
  });
}

export function signingKeyring(config: UserConfig, dataSource: DataSource, vault: PersonalDataVault): Keyring {
  return new Keyring(new SigningKeyRepository(dataSource), vault, {
    // Longer than any token a retired key signed can live, plus one reload of a replica that has not seen the rotation.
    retiredKeyGraceMs: (config.ACCESS_TOKEN_TTL_SECONDS + 2 * config.SIGNING_KEY_RELOAD_SECONDS) * 1000,
    reloadMs: config.SIGNING_KEY_RELOAD_SECONDS * 1000,
  });
}
