import {
  failureFromResponse,
  isSuccessStatus,
  type DeliveryOutcome,
  type OutboxHandler,
  type ServiceResponse,
} from '@shop/service-kit';
import type { CrmsClient, CrmsCustomerBody, CustomerProfile, CustomerStatus } from './crms-client.ts';

export const TOPICS = {
  create: 'customer.create',
  update: 'customer.update',
  status: 'customer.status',
} as const;

/** customer.create and customer.update carry the user's profile as it was when the change committed. */
export type ProfilePayload = CustomerProfile;
/** customer.status also carries the profile, so that a missing record can be created first (self-healing). */
export type StatusPayload = CustomerProfile & { customerStatus: CustomerStatus };

function delivered(response: ServiceResponse<CrmsCustomerBody>): DeliveryOutcome {
  const customerId = response.body?.data?.customerId;
  return {
    outcome: 'delivered',
    status: response.status,
    result: customerId ? { customerId } : null,
    logFields: customerId ? { customerId } : {},
  };
}

function answer(response: ServiceResponse<CrmsCustomerBody>): DeliveryOutcome {
  return isSuccessStatus(response.status) ? delivered(response) : failureFromResponse(response);
}

/**
 * PATCH the record; when CRMS has none yet (404: the create was dead-lettered, or the user became a Customer
 * before the outbox existed), create it from the payload, then PATCH again.
 */
async function patchOrCreate(
  client: CrmsClient,
  profile: CustomerProfile,
  patch: Parameters<CrmsClient['updateCustomer']>[1],
): Promise<DeliveryOutcome> {
  const first = await client.updateCustomer(profile.userId, patch);
  if (first.status !== 404) return answer(first);
  const created = await client.createCustomer(profile);
  if (!isSuccessStatus(created.status)) return failureFromResponse(created);
  const outcome = answer(await client.updateCustomer(profile.userId, patch));
  if (outcome.outcome === 'delivered') outcome.logFields = { ...outcome.logFields, createdFirst: true };
  return outcome;
}

/** The outbox handlers of ATHS → CRMS provisioning. Thrown errors (no answer) are retried by the worker. */
export function provisioningHandlers(client: CrmsClient): Record<string, OutboxHandler> {
  return {
    [TOPICS.create]: async (message) => answer(await client.createCustomer(message.payload as ProfilePayload)),
    [TOPICS.update]: async (message) => {
      const profile = message.payload as ProfilePayload;
      const { email, fullName, contactNumber } = profile;
      return patchOrCreate(client, profile, { email, fullName, contactNumber });
    },
    [TOPICS.status]: async (message) => {
      const payload = message.payload as StatusPayload;
      return patchOrCreate(client, payload, { customerStatus: payload.customerStatus });
    },
  };
}
