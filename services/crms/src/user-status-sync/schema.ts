import { defineOutboxTable } from '@shop/service-kit';

/**
 * CRMS → ATHS account-status intents (user.status {userId, isActive}), written in the same transaction as an
 * administrator's customer status change and delivered by the kit's outbox worker. `key` is the userId.
 */
export const userStatusOutbox = defineOutboxTable('user_status_outbox');
