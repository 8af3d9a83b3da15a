import { randomInt, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AccountErrors } from './errors';
import type { PasswordHasher } from './passwords';
import type { PersonalDataVault } from './personal-data';
import type { Allowance, Mailer, NewCode, UserStore } from './ports';
import type { Sessions } from './sessions';
import type { CodePurpose, PersonalData, Role, User } from './user';
import { judgeCode } from './verification';

export interface SignupInput extends Omit<PersonalData, 'email'> {
  email: string;
  password: string;
}

export interface Profile extends PersonalData {
  id: string;
  role: Role;
  verified: boolean;
  createdAt: string;
}

export type ProfileChanges = Partial<Omit<PersonalData, 'email'>>;

export interface AccountsOptions {
  codeTtlSeconds: number;
}

/**
 * What one client address or one email may ask for. Accounts are keyed by the email's blind index, so a limit answers
 * the same whether or not the email is registered.
 */
export interface AccountAllowances {
  signupsPerClient: Allowance;
  /** Emailed codes (verification resends and password resets together) per client address. */
  codeRequestsPerClient: Allowance;
  resendsPerAccount: Allowance;
  resetsPerAccount: Allowance;
  /** Code guesses per account per day, across every code sent: new codes bring no new guesses. */
  verifyGuessesPerAccount: Allowance;
  resetGuessesPerAccount: Allowance;
  /** "Someone signed up with your email" notices per account: past it they are skipped silently (no 429, no hint). */
  takenNoticesPerAccount: Allowance;
}

const DIGEST_PURPOSE: Record<CodePurpose, string> = { 'verify-email': 'verification', 'reset-password': 'password-reset' };

/** Signup, email verification, password reset, profile and password: the account's story. */
export class Accounts {
  constructor(
    private readonly users: UserStore,
    private readonly vault: PersonalDataVault,
    private readonly mailer: Mailer,
    private readonly sessions: Sessions,
    private readonly hasher: PasswordHasher,
    private readonly limits: AccountAllowances,
    private readonly logger: Logger,
    private readonly options: AccountsOptions,
  ) {}

  /**
   * Registers an unverified customer and emails them a verification code. An email already registered gets the same
   * answer, after the same work, and its owner an email saying so: signup does not tell who has an account.
   */
  async signup(input: SignupInput, client: string): Promise<void> {
    await this.limits.signupsPerClient.spend(client);
    const { password, ...personal } = input;
    const emailIndex = this.vault.emailIndex(input.email);
    const id = randomUUID();
    const { code, record } = this.newCode(id, 'verify-email');
    const created = await this.users.create(
      {
        id,
        emailIndex,
        personalData: this.vault.seal(personal, id),
        passwordHash: await this.hasher.hash(password),
        role: 'customer',
        verifiedAt: null,
      },
      record,
    );
    const mail = created ? this.sendCode(input.email, input.name, code, 'verify-email') : this.tellOwner(emailIndex);
    // The account stands even if the mail server is down: the user asks for a new code.
    await mail.catch((err: unknown) => this.logger.error({ err, userId: created ? id : undefined }, 'signup email failed'));
  }

  async verifyEmail(email: string, code: string): Promise<void> {
    await this.judge(email, code, 'verify-email', this.limits.verifyGuessesPerAccount);
  }

  /**
   * Sends a fresh code to an unverified account, within the limits per account and per address (checked first, so
   * they answer the same for every email). The rest runs in the background: neither the answer nor its timing tells
   * whether the email is registered.
   */
  async requestNewCode(email: string, client: string): Promise<void> {
    await this.spendCodeRequest(email, client, this.limits.resendsPerAccount);
    this.inBackground('verification resend', async () => {
      const user = await this.users.byEmailIndex(this.vault.emailIndex(email));
      if (!user || user.verifiedAt) return;
      await this.replaceAndSend(user, email, 'verify-email');
    });
  }

  /** Emails a password-reset code, with the same limits and the same answer for every email as a resend. */
  async requestPasswordReset(email: string, client: string): Promise<void> {
    await this.spendCodeRequest(email, client, this.limits.resetsPerAccount);
    this.inBackground('password reset request', async () => {
      const user = await this.users.byEmailIndex(this.vault.emailIndex(email));
      if (user) await this.replaceAndSend(user, email, 'reset-password');
    });
  }

  /** Sets a new password with an emailed reset code; every session of the account is logged out. */
  async resetPassword(email: string, code: string, newPassword: string): Promise<void> {
    const userId = await this.judge(email, code, 'reset-password', this.limits.resetGuessesPerAccount, newPassword);
    await this.sessions.logoutEverywhere(userId, 'password-reset');
  }

  async profile(userId: string): Promise<Profile> {
    const user = await this.users.byId(userId);
    if (!user) throw AccountErrors.invalidCredentials();
    const data = this.personalData(user);
    // Data sealed under a retired key moves to the current key as its owner reads it.
    if (this.vault.isStale(user.personalData)) await this.users.updatePersonalData(user.id, this.vault.seal(data, user.id));
    return this.toProfile(user, data);
  }

  async updateProfile(userId: string, changes: ProfileChanges): Promise<Profile> {
    const user = await this.users.byId(userId);
    if (!user) throw AccountErrors.invalidCredentials();
    const updated = { ...this.personalData(user), ...changes };
    await this.users.updatePersonalData(user.id, this.vault.seal(updated, user.id));
    return this.toProfile(user, updated);
  }

  /** Needs the current password; every session of the user is logged out afterwards. */
  async changePassword(userId: string, currentPassword: string, newPassword: string): Promise<void> {
    const user = await this.users.byId(userId);
    if (!user) throw AccountErrors.invalidCredentials();
    if (!(await this.hasher.verify(currentPassword, user.passwordHash))) throw AccountErrors.wrongCurrentPassword();
    await this.users.updatePasswordHash(user.id, await this.hasher.hash(newPassword));
    await this.sessions.logoutEverywhere(user.id, 'password-changed');
  }

  /** Spends one guess of the account's daily allowance, then judges the code; returns the account's id when it holds. */
  private async judge(email: string, code: string, purpose: CodePurpose, guesses: Allowance, newPassword?: string): Promise<string> {
    const emailIndex = this.vault.emailIndex(email);
    await guesses.spend(emailIndex);
    const user = await this.users.byEmailIndex(emailIndex);
    if (!user) throw AccountErrors.invalidCode();
    const onVerified = newPassword === undefined ? undefined : { passwordHash: await this.hasher.hash(newPassword) };
    const digest = this.digest(purpose, user.id, code);
    const outcome = await this.users.decideCodes(user.id, purpose, (codes) => judgeCode(codes, digest, new Date()), onVerified);
    if (outcome === 'invalid') throw AccountErrors.invalidCode();
    if (outcome === 'used') throw AccountErrors.codeUsed();
    if (outcome === 'expired') throw AccountErrors.codeExpired();
    return user.id;
  }

  private async spendCodeRequest(email: string, client: string, perAccount: Allowance): Promise<void> {
    await this.limits.codeRequestsPerClient.spend(client);
    await perAccount.spend(this.vault.emailIndex(email));
  }

  private async replaceAndSend(user: User, email: string, purpose: CodePurpose): Promise<void> {
    const { code, record } = this.newCode(user.id, purpose);
    await this.users.replaceCode(user.id, purpose, record);
    await this.sendCode(email, this.personalData(user).name, code, purpose);
  }

  private async tellOwner(emailIndex: string): Promise<void> {
    const skipped = await this.limits.takenNoticesPerAccount.spend(emailIndex).then(() => false, () => true);
    const owner = skipped ? undefined : await this.users.byEmailIndex(emailIndex);
    if (!owner) return;
    const { email, name } = this.personalData(owner);
    await this.mailer.send({
      to: email,
      subject: 'Someone tried to sign up with your email',
      text: [
        `Hello ${name},`,
        '',
        'Someone tried to create a Flash Sale account with this email, which already has one.',
        'If it was you: log in, or reset your password if you forgot it. If not, you can ignore this email.',
      ].join('\n'),
    });
  }

  private inBackground(what: string, work: () => Promise<void>): void {
    work().catch((err: unknown) => this.logger.error({ err }, `${what} failed`));
  }

  private personalData(user: User): PersonalData {
    return this.vault.open<PersonalData>(user.personalData, user.id);
  }

  private toProfile(user: User, data: PersonalData): Profile {
    return { id: user.id, ...data, role: user.role, verified: user.verifiedAt !== null, createdAt: user.createdAt.toISOString() };
  }

  private digest(purpose: CodePurpose, userId: string, code: string): string {
    return this.vault.digest(DIGEST_PURPOSE[purpose], `${userId}:${code}`);
  }

  private newCode(userId: string, purpose: CodePurpose): { code: string; record: NewCode } {
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    return {
      code,
      record: { codeDigest: this.digest(purpose, userId, code), expiresAt: new Date(Date.now() + this.options.codeTtlSeconds * 1000) },
    };
  }

  private async sendCode(email: string, name: string, code: string, purpose: CodePurpose): Promise<void> {
    // The code is in the body only: subjects show on lock screens and in mail servers' logs.
    const minutes = Math.round(this.options.codeTtlSeconds / 60);
    const validity = `It works once, for ${minutes} minute${minutes === 1 ? '' : 's'}.`;
    const mail =
      purpose === 'verify-email'
        ? { subject: 'Your Flash Sale verification code', body: `Your verification code is ${code}. ${validity}`, otherwise: 'If you did not sign up, ignore this email.' }
        : { subject: 'Your Flash Sale password reset code', body: `Your password reset code is ${code}. ${validity} Resetting logs out every device.`, otherwise: 'If you did not ask for it, ignore this email: your password stays as it is.' };
    await this.mailer.send({ to: email, subject: mail.subject, text: [`Hello ${name},`, '', mail.body, mail.otherwise].join('\n') });
  }
}
