import { badRequest, unauthorized, type Database, type Logger } from '@shop/service-kit';
import type { Mailer } from '../mail/mailer.ts';
import { passwordResetMail } from '../mail/templates.ts';
import type { AthsMetrics } from '../metrics.ts';
import type { OneTimeTokens } from '../one-time-tokens/service.ts';
import { recordLogin } from '../sessions/repository.ts';
import type { Sessions, TokenPair } from '../sessions/service.ts';
import type { PasswordHasher } from '../users/passwords.ts';
import * as repo from '../users/repository.ts';
import type { UserRow } from '../users/schema.ts';
import { requireUser } from './user-writes.ts';

export interface CredentialsDeps {
  db: Database;
  passwords: PasswordHasher;
  sessions: Sessions;
  oneTimeTokens: OneTimeTokens;
  mailer: Mailer;
  logger: Logger;
  metrics: AthsMetrics;
  /** APP_BASE_URL: the reset mail links to the app's /reset-password page. */
  appBaseUrl: string;
  /** PASSWORD_RESET_TTL in seconds (told in the mail). */
  resetTtlSeconds: number;
}

const invalidCredentials = () => unauthorized('Invalid email or password', 'credentials');

/** Signing in and passwords: login, forgotten and reset password, change of password. */
export function createCredentials(deps: CredentialsDeps) {
  const { db, passwords, sessions, oneTimeTokens, logger, metrics } = deps;
  const background = new Set<Promise<void>>();

  return {
    /** Same answer and comparable time for an unknown e-mail, a wrong password and a deactivated account. */
    async login(email: string, password: string): Promise<{ user: UserRow; tokens: TokenPair }> {
      const user = await repo.findUserByEmail(db, email);
      if (!user) {
        await passwords.verifyDummy(password);
        metrics.logins.inc({ outcome: 'unknown-email' });
        throw invalidCredentials();
      }
      const valid = await passwords.verify(user.passwordHash, password);
      if (!valid || !user.isActive) {
        metrics.logins.inc({ outcome: valid ? 'inactive' : 'wrong-password' });
        throw invalidCredentials();
      }
      const refresh = sessions.newRefreshToken(user.id);
      await recordLogin(db, user.id, refresh.record);
      metrics.logins.inc({ outcome: 'success' });
      return { user, tokens: await sessions.pair(user, refresh.token) };
    },

    /**
     * Sends a reset link when the account exists and is active. The look-up, token and mail happen after the caller
     * answered, so neither the answer nor its timing tells whether the address has an account.
     */
    forgotPassword(email: string): void {
      const task = (async () => {
        const user = await repo.findUserByEmail(db, email);
        if (!user || !user.isActive) {
          logger.info('password reset asked for an unknown or inactive account');
          return;
        }
        const token = await db.transaction((tx) => oneTimeTokens.replace(tx, user.id, 'password_reset'));
        deps.mailer.enqueue(passwordResetMail({ to: user.email, token, baseUrl: deps.appBaseUrl, ttlSeconds: deps.resetTtlSeconds }));
      })().catch((error: unknown) => logger.error({ err: error }, 'password reset request failed'));
      const tracked = new Promise<void>((resolve) => setImmediate(() => void task.finally(resolve)));
      background.add(tracked);
      void tracked.finally(() => background.delete(tracked));
    },

    /** Waits for background work (password-reset requests) to finish: before the database closes. */
    async drain(): Promise<void> {
      await Promise.all([...background]);
    },

    /** Single-use token → new password; every refresh token of the user is revoked. */
    async resetPassword(token: string, newPassword: string): Promise<void> {
      const passwordHash = await passwords.hash(newPassword);
      const userId = await db.transaction(async (tx) => {
        const now = new Date();
        const id = await oneTimeTokens.consume(tx, token, 'password_reset', now);
        if (!id) return undefined;
        await repo.updateUser(tx, id, { passwordHash });
        await oneTimeTokens.expireAll(tx, id, 'password_reset', now);
        await sessions.revokeAllForUser(tx, id, 'password-reset');
        return id;
      });
      if (!userId) throw badRequest('Invalid or expired reset token', 'token', 'The reset token is invalid, expired or already used');
      logger.info({ userId }, 'password reset');
    },

    async changePassword(userId: string, currentPassword: string, newPassword: string): Promise<void> {
      const user = await requireUser(db, userId);
      if (!(await passwords.verify(user.passwordHash, currentPassword))) {
        throw unauthorized('Current password is incorrect', 'currentPassword');
      }
      if (currentPassword === newPassword) {
        throw badRequest('Validation failed', 'body -> newPassword', 'must be different from the current password');
      }
      const passwordHash = await passwords.hash(newPassword);
      await db.transaction(async (tx) => {
        await repo.updateUser(tx, userId, { passwordHash });
        await sessions.revokeAllForUser(tx, userId, 'password-changed');
      });
    },
  };
}

export type Credentials = ReturnType<typeof createCredentials>;
