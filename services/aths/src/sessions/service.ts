import { newObjectId, unauthorized, type Database, type Executor, type Logger, type Role } from '@shop/service-kit';
import { hashToken, newOpaqueToken } from '../opaque-tokens.ts';
import type { SigningKeyStore } from '../signing-keys/key-store.ts';
import { findUserById } from '../users/repository.ts';
import * as repo from './repository.ts';
import type { AcceptedRefreshToken, NewRefreshToken } from './repository.ts';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Access-token lifetime in seconds. */
  expiresIn: number;
}

export interface SessionsOptions {
  db: Database;
  keys: Pick<SigningKeyStore, 'sign'>;
  logger: Logger;
  accessTokenTtlSeconds: number;
  /** Idle lifetime of one refresh token; each refresh starts a new one, capped at the family's absolute end. */
  refreshTokenTtlSeconds: number;
  /** Absolute lifetime of a family (a session), counted from the login or registration that started it. */
  refreshTokenAbsoluteTtlSeconds: number;
  /** `on`: rotate on every refresh, with reuse detection. `off`: the same token is kept (clients that never store a new one). */
  rotation: 'on' | 'off';
}

/** The family a new refresh token joins: its id and absolute end. */
export type RefreshFamily = Pick<AcceptedRefreshToken, 'familyId' | 'familyExpiresAt'>;

const invalidRefreshToken = () => unauthorized('Invalid or expired refresh token', 'refreshToken');

/**
 * Access tokens (signed JWTs) and refresh-token families (opaque, hashed, with an absolute end; rotated on use and
 * reuse-detected, or kept when rotation is off).
 */
export function createSessions(options: SessionsOptions) {
  const { db, keys, logger } = options;

  /** The idle expiry of a token issued or used at `now`, never past its family's absolute end. */
  const idleExpiry = (now: number, familyExpiresAt: Date) =>
    new Date(Math.min(now + options.refreshTokenTtlSeconds * 1000, familyExpiresAt.getTime()));

  /** A new refresh token (returned once) and the row that stores its hash; a new family unless one is given. */
  function newRefreshToken(userId: string, family?: RefreshFamily): { token: string; record: NewRefreshToken } {
    const token = newOpaqueToken();
    const now = Date.now();
    const familyExpiresAt = family?.familyExpiresAt ?? new Date(now + options.refreshTokenAbsoluteTtlSeconds * 1000);
    return {
      token,
      record: {
        id: newObjectId(),
        tokenHash: hashToken(token),
        familyId: family?.familyId ?? newObjectId(),
        userId,
        expiresAt: idleExpiry(now, familyExpiresAt),
        familyExpiresAt,
      },
    };
  }

  /** Accepts a live token: with rotation on it is used up (marked rotated), with rotation off its idle expiry slides. */
  function accept(tx: Executor, tokenHash: string, now: Date): Promise<AcceptedRefreshToken | undefined> {
    if (options.rotation === 'on') return repo.claimRefreshToken(tx, tokenHash, now);
    return repo.extendRefreshToken(tx, tokenHash, now, new Date(now.getTime() + options.refreshTokenTtlSeconds * 1000));
  }

  async function pair(user: { id: string; email: string; role: Role }, refreshToken: string): Promise<TokenPair> {
    const accessToken = await keys.sign({ userId: user.id, email: user.email, role: user.role });
    return { accessToken, refreshToken, expiresIn: options.accessTokenTtlSeconds };
  }

  return {
    newRefreshToken,
    pair,

    /**
     * A new access token for a live refresh token, with the user's current role and e-mail, and the refresh token to
     * use next: a new one of the same family (rotation on) or the presented one (rotation off). Presenting a token
     * that was already rotated is treated as theft in either mode: the whole family is revoked and the caller gets 401.
     */
    async refresh(refreshToken: string): Promise<TokenPair> {
      const tokenHash = hashToken(refreshToken);
      const now = new Date();
      const outcome = await db.transaction(async (tx) => {
        const claimed = await accept(tx, tokenHash, now);
        if (!claimed) {
          const existing = await repo.findRefreshToken(tx, tokenHash);
          if (existing && existing.rotatedAt !== null && existing.revokedAt === null) {
            const revoked = await repo.revokeFamily(tx, existing.familyId, 'reuse-detected', now);
            return { kind: 'reuse' as const, familyId: existing.familyId, userId: existing.userId, revoked };
          }
          return { kind: 'invalid' as const };
        }
        const user = await findUserById(tx, claimed.userId);
        if (!user || !user.isActive) {
          await repo.revokeFamily(tx, claimed.familyId, 'account-inactive', now);
          return { kind: 'inactive' as const };
        }
        if (options.rotation === 'off') return { kind: 'ok' as const, user, next: refreshToken };
        const next = newRefreshToken(user.id, claimed);
        await repo.insertRefreshToken(tx, next.record);
        return { kind: 'ok' as const, user, next: next.token };
      });
      if (outcome.kind === 'reuse') {
        logger.warn(
          { userId: outcome.userId, familyId: outcome.familyId, revoked: outcome.revoked },
          'refresh token reuse detected: token family revoked',
        );
        throw invalidRefreshToken();
      }
      if (outcome.kind !== 'ok') throw invalidRefreshToken();
      return pair(outcome.user, outcome.next);
    },

    /** Ends the session the token belongs to (its whole family). Unknown tokens are ignored. */
    async logout(refreshToken: string): Promise<void> {
      const existing = await repo.findRefreshToken(db, hashToken(refreshToken));
      if (existing) await repo.revokeFamily(db, existing.familyId, 'logout', new Date());
    },

    /** Ends every session of the user, in the caller's transaction (password change, deactivation, …). */
    revokeAllForUser(tx: Executor, userId: string, reason: string): Promise<number> {
      return repo.revokeAllForUser(tx, userId, reason, new Date());
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
