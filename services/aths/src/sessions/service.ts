import { newObjectId, unauthorized, type Database, type Executor, type Logger, type Role } from '@shop/service-kit';
import type { SigningKeyStore } from '../signing-keys/key-store.ts';
import { findUserById } from '../users/repository.ts';
import * as repo from './repository.ts';
import type { NewRefreshToken } from './repository.ts';
import { hashToken, newOpaqueToken } from './tokens.ts';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Access-token lifetime in seconds. */
  expiresIn: number;
}

export interface SessionServiceOptions {
  db: Database;
  keys: SigningKeyStore;
  logger: Logger;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
}

const invalidRefreshToken = () => unauthorized('Invalid or expired refresh token', 'refreshToken');

/** Access tokens (signed JWTs) and refresh-token families (opaque, hashed, rotated on use, reuse-detected). */
export class SessionService {
  constructor(private readonly options: SessionServiceOptions) {}

  /** A new refresh token (returned once) and the row that stores its hash; a new family unless one is given. */
  newRefreshToken(userId: string, familyId: string = newObjectId()): { token: string; record: NewRefreshToken } {
    const token = newOpaqueToken();
    return {
      token,
      record: {
        id: newObjectId(),
        tokenHash: hashToken(token),
        familyId,
        userId,
        expiresAt: new Date(Date.now() + this.options.refreshTokenTtlSeconds * 1000),
      },
    };
  }

  /** Starts a new family (a login) or continues one (a rotation) inside the caller's transaction. */
  async createRefreshToken(tx: Executor, userId: string, familyId?: string): Promise<string> {
    const { token, record } = this.newRefreshToken(userId, familyId);
    await repo.insertRefreshToken(tx, record);
    return token;
  }

  signAccessToken(user: { id: string; email: string; role: Role }): Promise<string> {
    return this.options.keys.sign({ userId: user.id, email: user.email, role: user.role });
  }

  async pair(user: { id: string; email: string; role: Role }, refreshToken: string): Promise<TokenPair> {
    return { accessToken: await this.signAccessToken(user), refreshToken, expiresIn: this.options.accessTokenTtlSeconds };
  }

  /**
   * Rotates a refresh token. The user's current role and e-mail go into the new access token. Presenting a token
   * that was already rotated is treated as theft: the whole family is revoked and the caller gets 401.
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const tokenHash = hashToken(refreshToken);
    const now = new Date();
    const outcome = await this.options.db.transaction(async (tx) => {
      const claimed = await repo.claimRefreshToken(tx, tokenHash, now);
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
      const next = await this.createRefreshToken(tx, user.id, claimed.familyId);
      return { kind: 'ok' as const, user, next };
    });
    if (outcome.kind === 'reuse') {
      this.options.logger.warn(
        { userId: outcome.userId, familyId: outcome.familyId, revoked: outcome.revoked },
        'refresh token reuse detected: token family revoked',
      );
      throw invalidRefreshToken();
    }
    if (outcome.kind !== 'ok') throw invalidRefreshToken();
    return this.pair(outcome.user, outcome.next);
  }

  /** Ends the session the token belongs to (its whole family). Unknown tokens are ignored. */
  async logout(refreshToken: string): Promise<void> {
    const existing = await repo.findRefreshToken(this.options.db, hashToken(refreshToken));
    if (existing) await repo.revokeFamily(this.options.db, existing.familyId, 'logout', new Date());
  }

  revokeAllForUser(tx: Executor, userId: string, reason: string): Promise<number> {
    return repo.revokeAllForUser(tx, userId, reason, new Date());
  }
}
