import type { Executor } from '@shop/service-kit';
import type { UserRow } from './schema.ts';

/** The internal user row handed to hooks (everything but the password hash). */
export type UserRecord = Omit<UserRow, 'passwordHash'>;

/** Who changed a user's active state: useful to avoid echoing a change back to the service it came from. */
export type ActiveChangeOrigin = 'admin' | 'self-delete' | 'internal';

/**
 * Extension points called inside the same database transaction as the user write, so that whatever a hook writes
 * (e.g. a transactional-outbox row for CRMS) commits or rolls back together with the user change.
 * `afterCommit` runs once the transaction committed (e.g. to nudge a delivery worker); it must not throw.
 */
export interface UserLifecycleHooks {
  /** Registration and administrator create; called after the user row is inserted. */
  onUserCreated(tx: Executor, user: UserRecord): Promise<void>;
  /** Profile edit (fullName / contactNumber / email / address) and role change; `changed` names the fields. */
  onUserUpdated(tx: Executor, user: UserRecord, changed: string[]): Promise<void>;
  /** Deactivate / reactivate (admin), self-delete (soft), internal status PATCH; only when the state really changed. */
  onUserActiveChanged(tx: Executor, user: UserRecord, origin?: ActiveChangeOrigin): Promise<void>;
  /** Administrator hard delete; called before the row is deleted. */
  onUserDeleted(tx: Executor, user: UserRecord): Promise<void>;
  /** Called after any of the above committed. */
  afterCommit(): void;
}

export const noUserLifecycleHooks: UserLifecycleHooks = {
  async onUserCreated() {},
  async onUserUpdated() {},
  async onUserActiveChanged() {},
  async onUserDeleted() {},
  afterCommit() {},
};

export function toUserRecord(row: UserRow): UserRecord {
  const { passwordHash: _hash, ...record } = row;
  return record;
}
