import type { Database, Role } from '@shop/service-kit';
import * as repo from '../users/repository.ts';
import type { UserRow } from '../users/schema.ts';

/** Read-only look-ups: the internal API's user by id or e-mail, token validation, the guards' account check. */
export function createUserLookups(db: Database) {
  return {
    byId: (userId: string): Promise<UserRow | undefined> => repo.findUserById(db, userId),
    byEmail: (email: string): Promise<UserRow | undefined> => repo.findUserByEmail(db, email),
    isActive: (userId: string): Promise<boolean | undefined> => repo.isUserActive(db, userId),
    async accountState(userId: string): Promise<{ isActive: boolean; role: Role } | undefined> {
      const user = await repo.findUserById(db, userId);
      return user ? { isActive: user.isActive, role: user.role } : undefined;
    },
  };
}

export type UserLookups = ReturnType<typeof createUserLookups>;
