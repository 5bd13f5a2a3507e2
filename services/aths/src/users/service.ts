import {
  badRequest,
  conflict,
  forbidden,
  HttpError,
  isUniqueViolation,
  mayHaveCommitted,
  newObjectId,
  notFound,
  retryWhileUnavailable,
  unauthorized,
  type Database,
  type Executor,
  type Logger,
  type Role,
} from '@shop/service-kit';
import type { AthsConfig } from '../config.ts';
import type { Mailer } from '../mail/mailer.ts';
import { passwordResetMail, verificationMail } from '../mail/templates.ts';
import type { AthsMetrics } from '../metrics.ts';
import * as tokenRepo from '../sessions/repository.ts';
import type { SessionService, TokenPair } from '../sessions/service.ts';
import { hashToken, newOpaqueToken } from '../sessions/tokens.ts';
import { verificationTokenFailure, type VerificationFailure } from './email-verification.ts';
import { toUserRecord, type ActiveChangeOrigin, type UserLifecycleHooks } from './lifecycle-hooks.ts';
import type { PasswordHasher } from './passwords.ts';
import * as repo from './repository.ts';
import type { Address, UserRow } from './schema.ts';

export interface UserServiceDeps {
  db: Database;
  hooks: UserLifecycleHooks;
  passwords: PasswordHasher;
  sessions: SessionService;
  mailer: Mailer;
  config: AthsConfig;
  logger: Logger;
  metrics: AthsMetrics;
}

export interface NewUserInput {
  email: string;
  password: string;
  fullName: string;
  contactNumber: string;
  address?: Address;
  role?: Role;
}

export interface ProfilePatch {
  fullName?: string;
  contactNumber?: string;
  address?: Address;
}

const EMAIL_TAKEN = () => conflict('Email is already registered', 'email', 'An account with this email already exists');
const invalidCredentials = () => unauthorized('Invalid email or password', 'credentials');
const userNotFound = () => notFound('User not found', 'userId');

const emailConstraint = (error: unknown) => isUniqueViolation(error, 'users_email_lower_unique');

function cleanAddress(address: Address | undefined): Address {
  const result: Address = {};
  for (const key of ['street', 'city', 'state', 'zipCode', 'country'] as const) {
    const value = address?.[key];
    if (typeof value === 'string' && value.length > 0) result[key] = value;
  }
  return result;
}

/** Users: registration, login, self-service, administration and the internal look-ups. */
export class UserService {
  constructor(private readonly deps: UserServiceDeps) {}

  /** Runs a write in one transaction, then tells the lifecycle hooks it committed. */
  private async write<T>(work: (tx: Executor) => Promise<T>): Promise<T> {
    const result = await this.deps.db.transaction(work);
    this.afterCommit();
    return result;
  }

  private afterCommit(): void {
    try {
      this.deps.hooks.afterCommit();
    } catch (error) {
      this.deps.logger.error({ err: error }, 'user lifecycle afterCommit hook failed');
    }
  }

  private oneTimeToken(userId: string, purpose: 'password_reset' | 'email_verification'): { token: string; record: tokenRepo.NewOneTimeToken } {
    const ttl = purpose === 'password_reset' ? this.deps.config.PASSWORD_RESET_TTL : this.deps.config.EMAIL_VERIFICATION_TTL;
    const token = newOpaqueToken();
    return { token, record: { tokenHash: hashToken(token), purpose, userId, expiresAt: new Date(Date.now() + ttl * 1000) } };
  }

  /** A new single-use token; earlier ones of the same purpose stop working. */
  private async issueOneTimeToken(tx: Executor, userId: string, purpose: 'password_reset' | 'email_verification'): Promise<string> {
    const { token, record } = this.oneTimeToken(userId, purpose);
    await tokenRepo.expireOneTimeTokens(tx, userId, purpose, new Date());
    await tokenRepo.insertOneTimeToken(tx, record);
    return token;
  }

  private sendVerification(user: UserRow, token: string): void {
    this.deps.mailer.enqueue(
      verificationMail({
        to: user.email,
        token,
        athsBaseUrl: this.deps.config.PUBLIC_BASE_URL,
        ttlSeconds: this.deps.config.EMAIL_VERIFICATION_TTL,
      }),
    );
  }

  /** Public registration: Customers only. One transaction: user, refresh-token family, verification token, hooks (the outbox row). */
  async register(input: Omit<NewUserInput, 'role'> & { role?: string }): Promise<{ user: UserRow; tokens: TokenPair }> {
    if (input.role !== undefined && input.role !== 'Customer') {
      throw forbidden(
        'Registration can only create Customer accounts',
        'body -> role',
        'Only the Customer role can be chosen at registration; administrators are created by an administrator',
      );
    }
    const passwordHash = await this.deps.passwords.hash(input.password);
    const id = newObjectId();
    const refresh = this.deps.sessions.newRefreshToken(id);
    const verification = this.oneTimeToken(id, 'email_verification');
    const values: repo.NewUser = {
      id,
      email: input.email,
      passwordHash,
      fullName: input.fullName,
      contactNumber: input.contactNumber,
      address: cleanAddress(input.address),
      role: 'Customer',
    };
    let user: UserRow;
    try {
      user = await this.write(async (tx) => {
        const row = await repo.insertUserWithTokens(tx, values, { refresh: refresh.record, verification: verification.record });
        await this.deps.hooks.onUserCreated(tx, toUserRecord(row));
        return row;
      });
    } catch (error) {
      if (emailConstraint(error)) throw EMAIL_TAKEN();
      const committed = await this.committedDespite(error, id);
      if (!committed) throw error;
      this.afterCommit();
      user = committed;
    }
    const created = { user, refreshToken: refresh.token, verificationToken: verification.token };
    this.deps.metrics.registrations.inc({ role: 'Customer' });
    this.sendVerification(created.user, created.verificationToken);
    return { user: created.user, tokens: await this.deps.sessions.pair(created.user, created.refreshToken) };
  }

  /**
   * After a registration write failed with the connection lost mid-statement (a database restart), whether it
   * committed all the same: asks the database, once it answers again (for up to DB_CONNECT_TIMEOUT_MS). A 503 must
   * not hide an account that exists: the client's retry would then get 409. Undefined when it did not commit;
   * throws when the database does not answer in time (the 503 stands).
   */
  private async committedDespite(error: unknown, userId: string): Promise<UserRow | undefined> {
    if (!mayHaveCommitted(error)) return undefined;
    const user = await retryWhileUnavailable(() => repo.findUserById(this.deps.db, userId), this.deps.config.DB_CONNECT_TIMEOUT_MS).catch(() => {
      throw error;
    });
    this.deps.logger.warn({ userId, committed: user !== undefined }, 'registration: connection lost mid-write; outcome read back');
    return user;
  }

  /** An administrator creates a user of any role. */
  async createUser(input: NewUserInput & { role: Role; emailVerified?: boolean }, options: { sendVerification?: boolean } = {}): Promise<UserRow> {
    const passwordHash = await this.deps.passwords.hash(input.password);
    let created: { user: UserRow; verificationToken: string | null };
    try {
      created = await this.write(async (tx) => {
        const id = newObjectId();
        const verification =
          options.sendVerification !== false && !input.emailVerified ? this.oneTimeToken(id, 'email_verification') : null;
        const user = await repo.insertUserWithTokens(
          tx,
          {
            id,
            email: input.email,
            passwordHash,
            fullName: input.fullName,
            contactNumber: input.contactNumber,
            address: cleanAddress(input.address),
            role: input.role,
            emailVerified: input.emailVerified ?? false,
          },
          { verification: verification?.record },
        );
        await this.deps.hooks.onUserCreated(tx, toUserRecord(user));
        return { user, verificationToken: verification?.token ?? null };
      });
    } catch (error) {
      if (emailConstraint(error)) throw EMAIL_TAKEN();
      throw error;
    }
    this.deps.metrics.registrations.inc({ role: created.user.role });
    if (created.verificationToken) this.sendVerification(created.user, created.verificationToken);
    return created.user;
  }

  /**
   * The first administrator from ADMIN_EMAIL / ADMIN_PASSWORD: created when no user has that e-mail, never
   * overwritten. Safe when several instances start together.
   */
  async ensureAdministrator(email: string, password: string, fullName = 'Administrator'): Promise<'created' | 'exists'> {
    const existing = await repo.findUserByEmail(this.deps.db, email);
    if (existing) {
      if (existing.role !== 'Administrator') {
        this.deps.logger.warn({ userId: existing.id }, 'ADMIN_EMAIL belongs to an existing user who is not an Administrator; left unchanged');
      }
      return 'exists';
    }
    try {
      await this.createUser(
        { email: email.trim().toLowerCase(), password, fullName, contactNumber: '0000000000', role: 'Administrator', emailVerified: true },
        { sendVerification: false },
      );
      return 'created';
    } catch (error) {
      if (error instanceof HttpError && error.statusCode === 409) return 'exists';
      throw error;
    }
  }

  /** Same answer and comparable time for an unknown e-mail, a wrong password and a deactivated account. */
  async login(email: string, password: string): Promise<{ user: UserRow; tokens: TokenPair }> {
    const user = await repo.findUserByEmail(this.deps.db, email);
    if (!user) {
      await this.deps.passwords.verifyDummy(password);
      this.deps.metrics.logins.inc({ outcome: 'unknown-email' });
      throw invalidCredentials();
    }
    const valid = await this.deps.passwords.verify(user.passwordHash, password);
    if (!valid || !user.isActive) {
      this.deps.metrics.logins.inc({ outcome: valid ? 'inactive' : 'wrong-password' });
      throw invalidCredentials();
    }
    const refresh = this.deps.sessions.newRefreshToken(user.id);
    await repo.recordLogin(this.deps.db, user.id, refresh.record);
    const refreshToken = refresh.token;
    this.deps.metrics.logins.inc({ outcome: 'success' });
    return { user, tokens: await this.deps.sessions.pair(user, refreshToken) };
  }

  private readonly background = new Set<Promise<void>>();

  /**
   * Sends a reset link when the account exists and is active. The look-up, token and mail happen after the caller
   * answered, so neither the answer nor its timing tells whether the address has an account.
   */
  forgotPassword(email: string): void {
    const task = (async () => {
      const user = await repo.findUserByEmail(this.deps.db, email);
      if (!user || !user.isActive) {
        this.deps.logger.info('password reset asked for an unknown or inactive account');
        return;
      }
      const token = await this.deps.db.transaction((tx) => this.issueOneTimeToken(tx, user.id, 'password_reset'));
      this.deps.mailer.enqueue(
        passwordResetMail({
          to: user.email,
          token,
          baseUrl: this.deps.config.APP_BASE_URL,
          ttlSeconds: this.deps.config.PASSWORD_RESET_TTL,
        }),
      );
    })().catch((error: unknown) => this.deps.logger.error({ err: error }, 'password reset request failed'));
    const tracked = new Promise<void>((resolve) => setImmediate(() => void task.finally(resolve)));
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
  }

  /** Waits for background work (password-reset requests) to finish: before the database closes. */
  async drain(): Promise<void> {
    await Promise.all([...this.background]);
  }

  /** Single-use token → new password; every refresh token of the user is revoked. */
  async resetPassword(token: string, newPassword: string): Promise<void> {
    const passwordHash = await this.deps.passwords.hash(newPassword);
    const userId = await this.deps.db.transaction(async (tx) => {
      const now = new Date();
      const id = await tokenRepo.consumeOneTimeToken(tx, hashToken(token), 'password_reset', now);
      if (!id) return undefined;
      await repo.updateUser(tx, id, { passwordHash });
      await tokenRepo.expireOneTimeTokens(tx, id, 'password_reset', now);
      await this.deps.sessions.revokeAllForUser(tx, id, 'password-reset');
      return id;
    });
    if (!userId) throw badRequest('Invalid or expired reset token', 'token', 'The reset token is invalid, expired or already used');
    this.deps.logger.info({ userId }, 'password reset');
  }

  async verifyEmail(token: string): Promise<UserRow> {
    const user = await this.useVerificationToken(token, new Date());
    if (!user) throw badRequest('Invalid or expired verification token', 'token', 'The verification token is invalid, expired or already used');
    return user;
  }

  /** The link in the mail: verifies (undefined), or says why the token cannot (read after the attempt). */
  async verifyEmailLink(token: string): Promise<VerificationFailure | undefined> {
    const now = new Date();
    if (await this.useVerificationToken(token, now)) return undefined;
    return verificationTokenFailure(this.deps.db, hashToken(token), now);
  }

  /** Single use: marks the token used and the address verified in one transaction; undefined if the token is unusable. */
  private async useVerificationToken(token: string, now: Date): Promise<UserRow | undefined> {
    return this.deps.db.transaction(async (tx) => {
      const id = await tokenRepo.consumeOneTimeToken(tx, hashToken(token), 'email_verification', now);
      if (!id) return undefined;
      return repo.updateUser(tx, id, { emailVerified: true });
    });
  }

  async resendVerification(userId: string): Promise<void> {
    const user = await this.requireUser(userId);
    if (user.emailVerified) throw badRequest('Email is already verified', 'email');
    const token = await this.deps.db.transaction((tx) => this.issueOneTimeToken(tx, user.id, 'email_verification'));
    this.sendVerification(user, token);
  }

  async requireUser(userId: string): Promise<UserRow> {
    const user = await repo.findUserById(this.deps.db, userId);
    if (!user) throw userNotFound();
    return user;
  }

  findUser(userId: string): Promise<UserRow | undefined> {
    return repo.findUserById(this.deps.db, userId);
  }

  findUserByEmail(email: string): Promise<UserRow | undefined> {
    return repo.findUserByEmail(this.deps.db, email);
  }

  async isActive(userId: string): Promise<boolean | undefined> {
    return repo.isUserActive(this.deps.db, userId);
  }

  async accountState(userId: string): Promise<{ isActive: boolean; role: Role } | undefined> {
    const user = await repo.findUserById(this.deps.db, userId);
    return user ? { isActive: user.isActive, role: user.role } : undefined;
  }

  async updateProfile(userId: string, patch: ProfilePatch): Promise<UserRow> {
    return this.write(async (tx) => {
      const current = await repo.findUserById(tx, userId, true);
      if (!current) throw userNotFound();
      const changes: repo.UserPatch = {};
      const changed: string[] = [];
      if (patch.fullName !== undefined && patch.fullName !== current.fullName) {
        changes.fullName = patch.fullName;
        changed.push('fullName');
      }
      if (patch.contactNumber !== undefined && patch.contactNumber !== current.contactNumber) {
        changes.contactNumber = patch.contactNumber;
        changed.push('contactNumber');
      }
      if (patch.address !== undefined) {
        const merged = cleanAddress({ ...current.address, ...patch.address });
        if (JSON.stringify(merged) !== JSON.stringify(cleanAddress(current.address))) {
          changes.address = merged;
          changed.push('address');
        }
      }
      if (changed.length === 0) return current;
      const updated = (await repo.updateUser(tx, userId, changes))!;
      await this.deps.hooks.onUserUpdated(tx, toUserRecord(updated), changed);
      return updated;
    });
  }

  async changePassword(userId: string, currentPassword: string, newPassword: string): Promise<void> {
    const user = await this.requireUser(userId);
    if (!(await this.deps.passwords.verify(user.passwordHash, currentPassword))) {
      throw unauthorized('Current password is incorrect', 'currentPassword');
    }
    if (currentPassword === newPassword) {
      throw badRequest('Validation failed', 'body -> newPassword', 'must be different from the current password');
    }
    const passwordHash = await this.deps.passwords.hash(newPassword);
    await this.deps.db.transaction(async (tx) => {
      await repo.updateUser(tx, userId, { passwordHash });
      await this.deps.sessions.revokeAllForUser(tx, userId, 'password-changed');
    });
  }

  /** Soft delete by the user: deactivates the account and revokes its tokens. */
  async deleteOwnAccount(userId: string, password: string): Promise<void> {
    const user = await this.requireUser(userId);
    if (!(await this.deps.passwords.verify(user.passwordHash, password))) {
      throw unauthorized('Password is incorrect', 'password');
    }
    await this.write(async (tx) => {
      if (user.role === 'Administrator') await this.assertAnotherActiveAdmin(tx, userId, 'deactivate');
      const updated = await repo.updateUser(tx, userId, { isActive: false });
      if (!updated) throw userNotFound();
      await this.deps.sessions.revokeAllForUser(tx, userId, 'account-deleted');
      if (user.isActive) await this.deps.hooks.onUserActiveChanged(tx, toUserRecord(updated), 'self-delete');
    });
  }

  private async assertAnotherActiveAdmin(tx: Executor, userId: string, action: string): Promise<void> {
    const adminIds = await repo.lockAdministrators(tx);
    const others = await Promise.all(adminIds.filter((id) => id !== userId).map((id) => repo.isUserActive(tx, id)));
    if (!others.some(Boolean)) {
      throw conflict(`Cannot ${action} the last Administrator`, 'userId', `At least one active Administrator must remain`);
    }
  }

  /** Activate or deactivate (administrator, or CRMS through the internal API). Deactivation revokes tokens. */
  async setActive(userId: string, isActive: boolean, origin: ActiveChangeOrigin, actorId?: string): Promise<UserRow> {
    if (actorId === userId && !isActive) {
      throw badRequest('You cannot deactivate your own account here', 'userId', 'Use DELETE /api/user/account to close your own account');
    }
    return this.write(async (tx) => {
      const current = await repo.findUserById(tx, userId, true);
      if (!current) throw userNotFound();
      if (current.isActive === isActive) return current;
      if (!isActive && current.role === 'Administrator') await this.assertAnotherActiveAdmin(tx, userId, 'deactivate');
      const updated = (await repo.updateUser(tx, userId, { isActive }))!;
      if (!isActive) await this.deps.sessions.revokeAllForUser(tx, userId, `deactivated-${origin}`);
      await this.deps.hooks.onUserActiveChanged(tx, toUserRecord(updated), origin);
      return updated;
    });
  }

  async changeRole(actorId: string, userId: string, role: Role): Promise<UserRow> {
    if (actorId === userId) {
      throw forbidden('You cannot change your own role', 'userId', 'An administrator cannot change their own role');
    }
    return this.write(async (tx) => {
      const current = await repo.findUserById(tx, userId, true);
      if (!current) throw userNotFound();
      if (current.role === role) return current;
      if (current.role === 'Administrator') await this.assertAnotherActiveAdmin(tx, userId, 'demote');
      const updated = (await repo.updateUser(tx, userId, { role }))!;
      await this.deps.hooks.onUserUpdated(tx, toUserRecord(updated), ['role']);
      return updated;
    });
  }

  /** Hard delete by an administrator: never yourself, never the last active Administrator. */
  async deleteUser(actorId: string, userId: string): Promise<void> {
    if (actorId === userId) {
      throw forbidden('You cannot delete your own account', 'userId', 'An administrator cannot delete their own account');
    }
    await this.write(async (tx) => {
      await repo.lockAdministrators(tx);
      const current = await repo.findUserById(tx, userId, true);
      if (!current) throw userNotFound();
      // Counts active ones, as deactivation and demotion do: deleting the last active one would leave no administrator.
      if (current.role === 'Administrator' && current.isActive) await this.assertAnotherActiveAdmin(tx, userId, 'delete');
      await this.deps.hooks.onUserDeleted(tx, toUserRecord(current));
      await repo.deleteUser(tx, userId);
    });
  }

  listUsers(filter: repo.UserListFilter) {
    return repo.listUsers(this.deps.db, filter);
  }

  stats() {
    return repo.userStats(this.deps.db);
  }
}
