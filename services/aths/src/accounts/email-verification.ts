import { badRequest, type Database } from '@shop/service-kit';
import type { Mailer } from '../mail/mailer.ts';
import { verificationMail } from '../mail/templates.ts';
import type { OneTimeTokens } from '../one-time-tokens/service.ts';
import * as repo from '../users/repository.ts';
import type { UserRow } from '../users/schema.ts';
import { requireUser } from './user-writes.ts';

/** Why a verification link did not verify (its redirect's `reason`; when each applies: docs/aths.md, "E-mail verification link"). */
export type VerificationFailure = 'missing' | 'invalid' | 'expired' | 'used';

/**
 * Where the browser goes after the link: `target` (EMAIL_VERIFIED_REDIRECT_URL) with `emailVerified=1`, or
 * `emailVerified=0&reason=…`; the target's own query parameters and fragment are kept.
 */
export function verificationRedirect(target: string, failure?: VerificationFailure): string {
  const url = new URL(target);
  url.searchParams.set('emailVerified', failure ? '0' : '1');
  if (failure) url.searchParams.set('reason', failure);
  else url.searchParams.delete('reason');
  return url.toString();
}

export interface EmailVerificationDeps {
  db: Database;
  oneTimeTokens: OneTimeTokens;
  mailer: Mailer;
  /** PUBLIC_BASE_URL: the mail links to ATHS's own GET /api/auth/verify-email. */
  publicBaseUrl: string;
  /** EMAIL_VERIFICATION_TTL in seconds (told in the mail). */
  ttlSeconds: number;
}

/** E-mail verification: the mail with its single-use link, and using the token (POST, or the link's GET). */
export function createEmailVerification(deps: EmailVerificationDeps) {
  const { db, oneTimeTokens } = deps;

  /** Single use: marks the token used and the address verified in one transaction; undefined if the token is unusable. */
  function useToken(token: string, now: Date): Promise<UserRow | undefined> {
    return db.transaction(async (tx) => {
      const id = await oneTimeTokens.consume(tx, token, 'email_verification', now);
      if (!id) return undefined;
      return repo.updateUser(tx, id, { emailVerified: true });
    });
  }

  function send(user: Pick<UserRow, 'email'>, token: string): void {
    deps.mailer.enqueue(verificationMail({ to: user.email, token, athsBaseUrl: deps.publicBaseUrl, ttlSeconds: deps.ttlSeconds }));
  }

  return {
    send,

    async verify(token: string): Promise<UserRow> {
      const user = await useToken(token, new Date());
      if (!user) throw badRequest('Invalid or expired verification token', 'token', 'The verification token is invalid, expired or already used');
      return user;
    },

    /** The link in the mail: verifies (undefined), or says why the token cannot (read after the attempt). */
    async verifyLink(token: string): Promise<VerificationFailure | undefined> {
      const now = new Date();
      if (await useToken(token, now)) return undefined;
      return oneTimeTokens.failure(db, token, 'email_verification', now);
    },

    /** A new link; the earlier ones stop working. */
    async resend(userId: string): Promise<void> {
      const user = await requireUser(db, userId);
      if (user.emailVerified) throw badRequest('Email is already verified', 'email');
      const token = await db.transaction((tx) => oneTimeTokens.replace(tx, user.id, 'email_verification'));
      send(user, token);
    },
  };
}

export type EmailVerification = ReturnType<typeof createEmailVerification>;
