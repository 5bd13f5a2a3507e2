import { enqueue, type Executor, type OutboxMessageInput } from '@shop/service-kit';
import type { UserLifecycleHooks, UserRecord } from '../users/lifecycle-hooks.ts';
import type { CustomerStatus } from './crms-client.ts';
import { TOPICS, type ProfilePayload, type StatusPayload } from './handlers.ts';
import { customerOutbox } from './schema.ts';

/** The user fields CRMS keeps a copy of. */
const COPIED_FIELDS = new Set(['email', 'fullName', 'contactNumber']);

const profileOf = (user: UserRecord): ProfilePayload => ({
  userId: user.id,
  email: user.email,
  fullName: user.fullName,
  contactNumber: user.contactNumber,
});

const createMessage = (user: UserRecord): OutboxMessageInput => ({ topic: TOPICS.create, key: user.id, payload: profileOf(user) });
const updateMessage = (user: UserRecord): OutboxMessageInput => ({ topic: TOPICS.update, key: user.id, payload: profileOf(user) });
const statusMessage = (user: UserRecord, customerStatus: CustomerStatus): OutboxMessageInput => ({
  topic: TOPICS.status,
  key: user.id,
  payload: { ...profileOf(user), customerStatus } satisfies StatusPayload,
});

/**
 * User lifecycle → CRMS intents, written in the user's own transaction so they exist exactly when the change commits
 * (which event sends what: docs/provisioning.md); `afterCommit` nudges the worker.
 */
export function provisioningHooks(nudge: () => void): UserLifecycleHooks {
  const write = (tx: Executor, messages: OutboxMessageInput[]) => enqueue(tx, customerOutbox, messages);
  const onCreate = (user: UserRecord): OutboxMessageInput[] =>
    user.role !== 'Customer' ? [] : user.isActive ? [createMessage(user)] : [createMessage(user), statusMessage(user, 'Inactive')];
  return {
    async onUserCreated(tx, user) {
      await write(tx, onCreate(user));
    },
    async onUserUpdated(tx, user, changed) {
      if (changed.includes('role')) {
        if (user.role === 'Customer') {
          await write(tx, [createMessage(user), statusMessage(user, user.isActive ? 'Active' : 'Inactive')]);
        } else {
          await write(tx, [statusMessage(user, 'Inactive')]);
        }
        return;
      }
      if (user.role !== 'Customer' || !changed.some((field) => COPIED_FIELDS.has(field))) return;
      await write(tx, [updateMessage(user)]);
    },
    async onUserActiveChanged(tx, user, origin) {
      if (user.role !== 'Customer' || origin === 'internal') return;
      await write(tx, [statusMessage(user, user.isActive ? 'Active' : 'Inactive')]);
    },
    async onUserDeleted(tx, user) {
      if (user.role !== 'Customer') return;
      await write(tx, [statusMessage(user, 'Inactive')]);
    },
    afterCommit() {
      nudge();
    },
  };
}
