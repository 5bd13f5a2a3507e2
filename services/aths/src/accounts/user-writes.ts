import { conflict, notFound, writeTransaction, type Database, type Executor, type Logger } from '@shop/service-kit';
import type { UserLifecycleHooks } from '../users/lifecycle-hooks.ts';
import * as repo from '../users/repository.ts';
import type { Address, UserRow } from '../users/schema.ts';

export const userNotFound = () => notFound('User not found', 'userId');

export async function requireUser(ex: Executor, userId: string): Promise<UserRow> {
  const user = await repo.findUserById(ex, userId);
  if (!user) throw userNotFound();
  return user;
}

/** Runs a user write in one transaction (the kit's writeTransaction), then tells the hooks it committed (afterCommit must not throw). */
export function userWriter(deps: { db: Database; hooks: UserLifecycleHooks; logger: Logger }) {
  function afterCommit(): void {
    try {
      deps.hooks.afterCommit();
    } catch (error) {
      deps.logger.error({ err: error }, 'user lifecycle afterCommit hook failed');
    }
  }
  async function write<T>(work: (tx: Executor) => Promise<T>): Promise<T> {
    const result = await writeTransaction(deps.db, work);
    afterCommit();
    return result;
  }
  return { afterCommit, write };
}

/** The address without its empty parts (what is stored and compared). */
export function cleanAddress(address: Address | undefined): Address {
  const result: Address = {};
  for (const key of ['street', 'city', 'state', 'zipCode', 'country'] as const) {
    const value = address?.[key];
    if (typeof value === 'string' && value.length > 0) result[key] = value;
  }
  return result;
}

/** 409 unless another active Administrator remains; locks the Administrators' rows so two such writes cannot both pass. */
export async function assertAnotherActiveAdmin(tx: Executor, userId: string, action: string): Promise<void> {
  const adminIds = await repo.lockAdministrators(tx);
  // One query at a time: a transaction is one connection (pg deprecates queueing queries on a busy client).
  for (const id of adminIds) if (id !== userId && (await repo.isUserActive(tx, id))) return;
  throw conflict(`Cannot ${action} the last Administrator`, 'userId', `At least one active Administrator must remain`);
}
