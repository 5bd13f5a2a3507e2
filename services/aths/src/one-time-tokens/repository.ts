import { and, eq, gt, isNull, lt } from 'drizzle-orm';
import type { Executor } from '@shop/service-kit';
import { oneTimeTokens, type OneTimePurpose } from './schema.ts';

export interface NewOneTimeToken {
  tokenHash: string;
  purpose: OneTimePurpose;
  userId: string;
  expiresAt: Date;
}

export async function insertOneTimeToken(ex: Executor, values: NewOneTimeToken): Promise<void> {
  await ex.insert(oneTimeTokens).values(values);
}

/** Uses a one-time token: only an unused, unexpired token of that purpose matches, and only once. */
export async function consumeOneTimeToken(
  ex: Executor,
  tokenHash: string,
  purpose: OneTimePurpose,
  now: Date,
): Promise<string | undefined> {
  const [row] = await ex
    .update(oneTimeTokens)
    .set({ usedAt: now })
    .where(
      and(
        eq(oneTimeTokens.tokenHash, tokenHash),
        eq(oneTimeTokens.purpose, purpose),
        isNull(oneTimeTokens.usedAt),
        gt(oneTimeTokens.expiresAt, now),
      ),
    )
    .returning({ userId: oneTimeTokens.userId });
  return row?.userId;
}

/** Invalidates the user's other outstanding tokens of one purpose (a new link replaces the old ones). */
export async function expireOneTimeTokens(ex: Executor, userId: string, purpose: OneTimePurpose, now: Date): Promise<void> {
  await ex
    .update(oneTimeTokens)
    .set({ usedAt: now })
    .where(and(eq(oneTimeTokens.userId, userId), eq(oneTimeTokens.purpose, purpose), isNull(oneTimeTokens.usedAt)));
}

export async function pruneOneTimeTokens(ex: Executor, olderThan: Date): Promise<void> {
  await ex.delete(oneTimeTokens).where(lt(oneTimeTokens.expiresAt, olderThan));
}


/**
 * Why a token that could not be consumed at `now` is unusable, from its row (read after the attempt, with the same
 * `now`, so the answer matches the conditions consumeOneTimeToken applied).
 */
export async function oneTimeTokenFailure(
  ex: Executor,
  tokenHash: string,
  purpose: OneTimePurpose,
  now: Date,
): Promise<'invalid' | 'expired' | 'used'> {
  const [row] = await ex
    .select({ usedAt: oneTimeTokens.usedAt, expiresAt: oneTimeTokens.expiresAt })
    .from(oneTimeTokens)
    .where(and(eq(oneTimeTokens.tokenHash, tokenHash), eq(oneTimeTokens.purpose, purpose)))
    .limit(1);
  if (!row) return 'invalid';
  if (row.usedAt) return 'used';
  return row.expiresAt <= now ? 'expired' : 'invalid';
}
