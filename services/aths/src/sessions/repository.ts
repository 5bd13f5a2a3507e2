import { and, eq, gt, isNull, lt, or, sql } from 'drizzle-orm';
import { runStatement, type Executor } from '@shop/service-kit';
import { refreshTokens } from './schema.ts';

export interface NewRefreshToken {
  id: string;
  tokenHash: string;
  familyId: string;
  userId: string;
  expiresAt: Date;
  /** The family's absolute end: set when a login starts it, copied unchanged to every later row of the family. */
  familyExpiresAt: Date;
}

/** What a refresh learns about the token it accepted. */
export interface AcceptedRefreshToken {
  familyId: string;
  userId: string;
  familyExpiresAt: Date;
}

export async function insertRefreshToken(ex: Executor, values: NewRefreshToken): Promise<void> {
  await ex.insert(refreshTokens).values(values);
}

/**
 * The login hot path in one statement: the new refresh token, and the user's last-login time when it is more than
 * an hour old (an hour's precision saves a row write on most logins).
 */
export async function recordLogin(ex: Executor, userId: string, refresh: NewRefreshToken): Promise<void> {
  const now = new Date();
  const hourAgo = new Date(now.getTime() - 3600_000);
  await runStatement(ex, sql`WITH t AS (
      INSERT INTO refresh_tokens (id, token_hash, family_id, user_id, created_at, expires_at, family_expires_at)
      VALUES (${refresh.id}, ${refresh.tokenHash}, ${refresh.familyId}, ${refresh.userId}, ${now}, ${refresh.expiresAt}, ${refresh.familyExpiresAt}))
    UPDATE users SET last_login_at = ${now}
     WHERE id = ${userId} AND (last_login_at IS NULL OR last_login_at < ${hourAgo})`);
}

/** A token that may still be used: not rotated, not revoked, within its idle and its family's absolute lifetime. */
const usable = (tokenHash: string, now: Date) =>
  and(
    eq(refreshTokens.tokenHash, tokenHash),
    isNull(refreshTokens.rotatedAt),
    isNull(refreshTokens.revokedAt),
    gt(refreshTokens.expiresAt, now),
    gt(refreshTokens.familyExpiresAt, now),
  );

const accepted = { familyId: refreshTokens.familyId, userId: refreshTokens.userId, familyExpiresAt: refreshTokens.familyExpiresAt };

/**
 * Marks a live token rotated, atomically: of two concurrent uses of one token, exactly one gets the row back.
 */
export async function claimRefreshToken(ex: Executor, tokenHash: string, now: Date): Promise<AcceptedRefreshToken | undefined> {
  const [row] = await ex.update(refreshTokens).set({ rotatedAt: now }).where(usable(tokenHash, now)).returning(accepted);
  return row;
}

/**
 * Keeps a live token (rotation off): its idle expiry moves to `idleUntil`, never past the family's absolute end.
 * Concurrent uses of one token all succeed (each waits for the other's row lock, then still matches).
 */
export async function extendRefreshToken(
  ex: Executor,
  tokenHash: string,
  now: Date,
  idleUntil: Date,
): Promise<AcceptedRefreshToken | undefined> {
  const [row] = await ex
    .update(refreshTokens)
    .set({ expiresAt: sql`least(${idleUntil.toISOString()}::timestamptz, ${refreshTokens.familyExpiresAt})` })
    .where(usable(tokenHash, now))
    .returning(accepted);
  return row;
}

export async function findRefreshToken(ex: Executor, tokenHash: string) {
  const [row] = await ex.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, tokenHash));
  return row;
}

export async function revokeFamily(ex: Executor, familyId: string, reason: string, now: Date): Promise<number> {
  const rows = await ex
    .update(refreshTokens)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)))
    .returning({ id: refreshTokens.id });
  return rows.length;
}

export async function revokeAllForUser(ex: Executor, userId: string, reason: string, now: Date): Promise<number> {
  const rows = await ex
    .update(refreshTokens)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt)))
    .returning({ id: refreshTokens.id });
  return rows.length;
}

/** Drops tokens that can no longer be used by anyone (expired, or revoked/rotated a while ago). */
export async function pruneRefreshTokens(ex: Executor, olderThan: Date): Promise<void> {
  await ex
    .delete(refreshTokens)
    .where(or(lt(refreshTokens.expiresAt, olderThan), lt(refreshTokens.revokedAt, olderThan)));
}
