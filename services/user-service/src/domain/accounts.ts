import { randomInt, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AccountErrors } from './errors';
import { hashPassword, verifyPassword } from './passwords';
import type { PersonalDataVault } from './personal-data';
import type { Mailer, NewCode, UserStore } from './ports';
import type { Sessions } from './sessions';
import type { PersonalData, Role, User } from './user';
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

/** Signup, email verification, profile and password: the account's story. */
export class Accounts {
  constructor(
    private readonly users: UserStore,
    private readonly vault: PersonalDataVault,
    private readonly mailer: Mailer,
    private readonly sessions: Sessions,
    private readonly logger: Logger,
    private readonly options: AccountsOptions,
  ) {}

  /** Registers an unverified customer and emails them a verification code. */
  async signup(input: SignupInput): Promise<void> {
    const { password, ...personal } = input;
    const emailIndex = this.vault.emailIndex(input.email);
    if (await this.users.byEmailIndex(emailIndex)) throw AccountErrors.emailTaken();
    const id = randomUUID();
    const { code, record } = this.newCode(id);
    const created = await this.users.create(
      {
        id,
        emailIndex,
        personalData: this.vault.seal(personal, id),
        passwordHash: await hashPassword(password),
        role: 'customer',
        verifiedAt: null,
      },
      record,
    );
    if (!created) throw AccountErrors.emailTaken();
    // The account stands even if the mail server is down: the user asks for a new code.
    await this.sendCode(input.email, input.name, code).catch((err: unknown) =>
      this.logger.error({ err, userId: id }, 'verification email failed'),
    );
  }

  async verifyEmail(email: string, code: string): Promise<void> {
    const user = await this.users.byEmailIndex(this.vault.emailIndex(email));
    if (!user) throw AccountErrors.invalidCode();
    const digest = this.vault.digest('verification', `${user.id}:${code}`);
    const outcome = await this.users.decideCodes(user.id, (codes) => judgeCode(codes, digest, new Date()));
    if (outcome === 'invalid') throw AccountErrors.invalidCode();
    if (outcome === 'used') throw AccountErrors.codeUsed();
    if (outcome === 'expired') throw AccountErrors.codeExpired();
  }

  /**
   * Sends a fresh code to an unverified account. Callers answer the same whatever happens here, so it runs in the
   * background: neither the answer nor its timing tells whether the email is registered.
   */
  requestNewCode(email: string): void {
    this.resendCode(email).catch((err: unknown) => this.logger.error({ err }, 'verification resend failed'));
  }

  private async resendCode(email: string): Promise<void> {
    const user = await this.users.byEmailIndex(this.vault.emailIndex(email));
    if (!user || user.verifiedAt) return;
    const { code, record } = this.newCode(user.id);
    await this.users.replaceCode(user.id, record, new Date());
    await this.sendCode(email, this.personalData(user).name, code);
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
    if (!(await verifyPassword(currentPassword, user.passwordHash))) throw AccountErrors.wrongCurrentPassword();
    await this.users.updatePasswordHash(user.id, await hashPassword(newPassword));
    await this.sessions.logoutEverywhere(user.id, 'password-changed');
  }

  private personalData(user: User): PersonalData {
    return this.vault.open<PersonalData>(user.personalData, user.id);
  }

  private toProfile(user: User, data: PersonalData): Profile {
    return { id: user.id, ...data, role: user.role, verified: user.verifiedAt !== null, createdAt: user.createdAt.toISOString() };
  }

  private newCode(userId: string): { code: string; record: NewCode } {
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    return {
      code,
      record: {
        codeDigest: this.vault.digest('verification', `${userId}:${code}`),
        expiresAt: new Date(Date.now() + this.options.codeTtlSeconds * 1000),
      },
    };
  }

  private async sendCode(email: string, name: string, code: string): Promise<void> {
    const minutes = Math.round(this.options.codeTtlSeconds / 60);
    await this.mailer.send({
      to: email,
      subject: `Your Flash Sale verification code: ${code}`,
      text: [
        `Hello ${name},`,
        '',
        `Your verification code is ${code}. It works once, for ${minutes} minute${minutes === 1 ? '' : 's'}.`,
        'If you did not sign up, ignore this email.',
      ].join('\n'),
    });
  }
}
