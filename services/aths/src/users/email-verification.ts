import { and, eq } from 'drizzle-orm';
import type { Executor } from '@shop/service-kit';
import { oneTimeTokens } from '../sessions/schema.ts';

/**
 * Why a verification link did not verify: the `reason` of its redirect (docs/aths.md, "E-mail verification link").
 * `missing`: no token in the link; `invalid`: no such verification token (mistyped, cut off, its account deleted, or
 * pruned a day after expiry); `expired`: older than EMAIL_VERIFICATION_TTL; `used`: used already, or replaced by a
 * newer link (resend-verification).
 */
export type VerificationFailure = 'missing' | 'invalid' | 'expired' | 'used';

/**
 * Why a verification token that could not be consumed at `now` is unusable, from its row (read after the attempt,
 * with the same `now`, so the answer matches the conditions consumeOneTimeToken applied).
 */
export async function verificationTokenFailure(ex: Executor, tokenHash: string, now: Date): Promise<'invalid' | 'expired' | 'used'> {
  const [row] = await ex
    .select({ usedAt: oneTimeTokens.usedAt, expiresAt: oneTimeTokens.expiresAt })
    .from(oneTimeTokens)
    .where(and(eq(oneTimeTokens.tokenHash, tokenHash), eq(oneTimeTokens.purpose, 'email_verification')))
    .limit(1);
  if (!row) return 'invalid';
  if (row.usedAt) return 'used';
  return row.expiresAt <= now ? 'expired' : 'invalid';
}

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
