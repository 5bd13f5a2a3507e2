import { defineOutboxTable } from '@shop/service-kit';

/**
 * ATHS → CRMS provisioning intents (customer.create, customer.update, customer.status), written in the same
 * transaction as the user change and delivered by the kit's outbox worker. `key` is the userId.
 */
export const customerOutbox = defineOutboxTable('customer_outbox');
