import { unauthorized, type Database, type Logger } from '@shop/service-kit';
import type { Sessions } from '../sessions/service.ts';
import { toUserRecord, type UserLifecycleHooks } from '../users/lifecycle-hooks.ts';
import type { PasswordHasher } from '../users/passwords.ts';
import * as repo from '../users/repository.ts';
import type { Address, UserRow } from '../users/schema.ts';
import { assertAnotherActiveAdmin, cleanAddress, requireUser, userNotFound, userWriter } from './user-writes.ts';

export interface ProfilePatch {
  fullName?: string;
  contactNumber?: string;
  address?: Address;
}

export interface ProfileDeps {
  db: Database;
  hooks: UserLifecycleHooks;
  passwords: PasswordHasher;
  sessions: Sessions;
  logger: Logger;
}

/** Self-service: one's own profile, and closing one's own account. */
export function createProfile(deps: ProfileDeps) {
  const { db, hooks, passwords, sessions } = deps;
  const { write } = userWriter(deps);

  return {
    get: (userId: string): Promise<UserRow> => requireUser(db, userId),

    /** Changes what differs (address parts are merged); hooks hear of the changed fields only, and of nothing on a no-op. */
    async update(userId: string, patch: ProfilePatch): Promise<UserRow> {
      return write(async (tx) => {
        const current = await repo.findUserById(tx, userId, true);
        if (!current) throw userNotFound();
        const changes: repo.UserPatch = {};
        const changed: string[] = [];
        if (patch.fullName !== undefined && patch.fullName !== current.fullName) {
          changes.fullName = patch.fullName;
          changed.push('fullName');
        }
        if (patch.contactNumber !== undefined && patch.contactNumber !== current.contactNumber) {
          changes.contactNumber = patch.contactNumber;
          changed.push('contactNumber');
        }
        if (patch.address !== undefined) {
          const merged = cleanAddress({ ...current.address, ...patch.address });
          if (JSON.stringify(merged) !== JSON.stringify(cleanAddress(current.address))) {
            changes.address = merged;
            changed.push('address');
          }
        }
        if (changed.length === 0) return current;
        const updated = (await repo.updateUser(tx, userId, changes))!;
        await hooks.onUserUpdated(tx, toUserRecord(updated), changed);
        return updated;
      });
    },

    /** Soft delete by the user: deactivates the account and revokes its tokens. */
    async close(userId: string, password: string): Promise<void> {
      const user = await requireUser(db, userId);
      if (!(await passwords.verify(user.passwordHash, password))) {
        throw unauthorized('Password is incorrect', 'password');
      }
      await write(async (tx) => {
        if (user.role === 'Administrator') await assertAnotherActiveAdmin(tx, userId, 'deactivate');
        const updated = await repo.updateUser(tx, userId, { isActive: false });
        if (!updated) throw userNotFound();
        await sessions.revokeAllForUser(tx, userId, 'account-deleted');
        if (user.isActive) await hooks.onUserActiveChanged(tx, toUserRecord(updated), 'self-delete');
      });
    },
  };
}

export type Profile = ReturnType<typeof createProfile>;
