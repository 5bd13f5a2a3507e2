import { defineServiceClient, type ServiceClientOptions, type ServiceResponse } from '@shop/service-kit';

/** What ATHS sends to create a customer: the four fields of `POST /api/customers/internal/create` (shared/spec/API.md). */
export interface CustomerProfile {
  userId: string;
  email: string;
  fullName: string;
  contactNumber: string;
}

export type CustomerStatus = 'Active' | 'Inactive';

export interface CrmsCustomerBody {
  success?: boolean;
  message?: string;
  data?: { customerId?: string; userId?: string; customerStatus?: string };
}

/**
 * ATHS → CRMS over the kit's service client (keep-alive pool, 5 s deadline by default, `x-api-key`:
 * CRMS_SERVICE_API_KEY). Answers come back as they are; no answer at all throws ServiceUnavailableError. What is
 * retried is the outbox handlers' choice.
 */
export function createCrmsClient(options: ServiceClientOptions) {
  return defineServiceClient({ ...options, connections: options.connections ?? 32 }, (request) => ({
    /** POST /api/customers/internal/create — idempotent on userId (200 created or already exists). */
    createCustomer(profile: CustomerProfile): Promise<ServiceResponse<CrmsCustomerBody>> {
      const { userId, email, fullName, contactNumber } = profile;
      return request<CrmsCustomerBody>('POST', '/api/customers/internal/create', { userId, email, fullName, contactNumber });
    },
    /** PATCH /api/customers/internal/user/{userId} — profile fields and/or customerStatus; 404 when no record exists. */
    updateCustomer(
      userId: string,
      patch: Partial<Pick<CustomerProfile, 'email' | 'fullName' | 'contactNumber'>> & { customerStatus?: CustomerStatus },
    ): Promise<ServiceResponse<CrmsCustomerBody>> {
      return request<CrmsCustomerBody>('PATCH', `/api/customers/internal/user/${encodeURIComponent(userId)}`, patch);
    },
  }));
}

export type CrmsClient = ReturnType<typeof createCrmsClient>;
