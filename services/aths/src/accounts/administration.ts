import { badRequest, forbidden, type Database, type Logger, type Role } from '@shop/service-kit';
import type { Sessions } from '../sessions/service.ts';
import { toUserRecord, type ActiveChangeOrigin, type UserLifecycleHooks } from '../users/lifecycle-hooks.ts';
import * as repo from '../users/repository.ts';
import type { UserRow } from '../users/schema.ts';
import { assertAnotherActiveAdmin, userNotFound, userWriter } from './user-writes.ts';

export interface AdministrationDeps {
  db: Database;
  hooks: UserLifecycleHooks;
  sessions: Sessions;
  logger: Logger;
}

/** User administration (administrators, and CRMS through the internal API): list, counts, status, role, delete. */
export function createAdministration(deps: AdministrationDeps) {
  const { db, hooks, sessions } = deps;
  const { write } = userWriter(deps);

  return {
    list: (filter: repo.UserListFilter) => repo.listUsers(db, filter),
    stats: () => repo.userStats(db),

    /** Activate or deactivate; deactivation revokes the user's tokens. Never the last active Administrator. */
    async setActive(userId: string, isActive: boolean, origin: ActiveChangeOrigin, actorId?: string): Promise<UserRow> {
      if (actorId === userId && !isActive) {
        throw badRequest('You cannot deactivate your own account here', 'userId', 'Use DELETE /api/user/account to close your own account');
      }
      return write(async (tx) => {
        const current = await repo.findUserById(tx, userId, true);
        if (!current) throw userNotFound();
        if (current.isActive === isActive) return current;
        if (!isActive && current.role === 'Administrator') await assertAnotherActiveAdmin(tx, userId, 'deactivate');
        const updated = (await repo.updateUser(tx, userId, { isActive }))!;
        if (!isActive) await sessions.revokeAllForUser(tx, userId, `deactivated-${origin}`);
        await hooks.onUserActiveChanged(tx, toUserRecord(updated), origin);
        return updated;
      });
    },

    async changeRole(actorId: string, userId: string, role: Role): Promise<UserRow> {
      if (actorId === userId) {
        throw forbidden('You cannot change your own role', 'userId', 'An administrator cannot change their own role');
      }
      return write(async (tx) => {
        const current = await repo.findUserById(tx, userId, true);
        if (!current) throw userNotFound();
        if (current.role === role) return current;
        if (current.role === 'Administrator') await assertAnotherActiveAdmin(tx, userId, 'demote');
        const updated = (await repo.updateUser(tx, userId, { role }))!;
        await hooks.onUserUpdated(tx, toUserRecord(updated), ['role']);
        return updated;
      });
    },

    /** Hard delete: never yourself, never the last active Administrator. */
    async deleteUser(actorId: string, userId: string): Promise<void> {
      if (actorId === userId) {
        throw forbidden('You cannot delete your own account', 'userId', 'An administrator cannot delete their own account');
      }
      await write(async (tx) => {
        await repo.lockAdministrators(tx);
        const current = await repo.findUserById(tx, userId, true);
        if (!current) throw userNotFound();
        // Counts active ones, as deactivation and demotion do: deleting the last active one would leave no administrator.
        if (current.role === 'Administrator' && current.isActive) await assertAnotherActiveAdmin(tx, userId, 'delete');
        await hooks.onUserDeleted(tx, toUserRecord(current));
        await repo.deleteUser(tx, userId);
      });
    },
  };
}

export type Administration = ReturnType<typeof createAdministration>;
