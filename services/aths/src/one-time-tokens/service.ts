import type { Executor } from '@shop/service-kit';
import { hashToken, newOpaqueToken } from '../opaque-tokens.ts';
import * as repo from './repository.ts';
import type { NewOneTimeToken } from './repository.ts';
import type { OneTimePurpose } from './schema.ts';

export type { OneTimePurpose } from './schema.ts';

/**
 * Single-use tokens sent by mail (password reset, e-mail verification), each purpose with its lifetime in seconds.
 * The token itself goes into the mail; only its SHA-256 is stored.
 */
export function createOneTimeTokens(lifetimes: Record<OneTimePurpose, number>) {
  /** A new token (returned once) and the row that stores its hash, for insertOneTimeToken in the caller's transaction. */
  function create(userId: string, purpose: OneTimePurpose): { token: string; record: NewOneTimeToken } {
    const token = newOpaqueToken();
    return { token, record: { tokenHash: hashToken(token), purpose, userId, expiresAt: new Date(Date.now() + lifetimes[purpose] * 1000) } };
  }

  return {
    create,
    /** A new token in the caller's transaction; the user's earlier ones of the same purpose stop working. */
    async replace(tx: Executor, userId: string, purpose: OneTimePurpose): Promise<string> {
      const { token, record } = create(userId, purpose);
      await repo.expireOneTimeTokens(tx, userId, purpose, new Date());
      await repo.insertOneTimeToken(tx, record);
      return token;
    },
    /** Uses a token up: its user's id, or undefined when it is unknown, used, expired or of another purpose. */
    consume(tx: Executor, token: string, purpose: OneTimePurpose, now: Date): Promise<string | undefined> {
      return repo.consumeOneTimeToken(tx, hashToken(token), purpose, now);
    },
    /** After consume failed at `now`: whether the token is unknown, expired or used. */
    failure(ex: Executor, token: string, purpose: OneTimePurpose, now: Date) {
      return repo.oneTimeTokenFailure(ex, hashToken(token), purpose, now);
    },
    /** Ends the user's outstanding tokens of one purpose (a password reset ends the other reset links). */
    expireAll(tx: Executor, userId: string, purpose: OneTimePurpose, now: Date): Promise<void> {
      return repo.expireOneTimeTokens(tx, userId, purpose, now);
    },
  };
}

export type OneTimeTokens = ReturnType<typeof createOneTimeTokens>;
