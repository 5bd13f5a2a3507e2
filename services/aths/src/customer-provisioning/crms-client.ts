import { createServiceClient, type ServiceResponse } from '@shop/service-kit';

/** What ATHS sends to create a customer: exactly the seed's four fields. */
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

export interface CrmsClientOptions {
  baseUrl: string;
  /** Sent as `x-api-key` (CRMS_SERVICE_API_KEY); never logged. */
  apiKey: string;
  /** Whole-call deadline (default 5 s, as the seed asks). */
  timeoutMs?: number;
  /** Keep-alive connections to CRMS (default 32, enough for the worker's concurrency). */
  connections?: number;
}

/**
 * ATHS → CRMS over the kit's service client: undici keep-alive pool, deadline, `x-api-key`, HTTPS when the base URL
 * is https. Answers are returned as they are (status + body); a failure to get any answer throws
 * ServiceUnavailableError. Deciding what is retried is the outbox handlers' job.
 */
export function createCrmsClient(options: CrmsClientOptions) {
  const client = createServiceClient({
    baseUrl: options.baseUrl,
    apiKey: options.apiKey,
    timeoutMs: options.timeoutMs ?? 5_000,
    connections: options.connections ?? 32,
  });
  return {
    baseUrl: client.baseUrl,
    /** POST /api/customers/internal/create — idempotent on userId (200 created or already exists). */
    createCustomer(profile: CustomerProfile): Promise<ServiceResponse<CrmsCustomerBody>> {
      const { userId, email, fullName, contactNumber } = profile;
      return client.request<CrmsCustomerBody>('POST', '/api/customers/internal/create', { userId, email, fullName, contactNumber });
    },
    /** PATCH /api/customers/internal/user/{userId} — profile fields and/or customerStatus; 404 when no record exists. */
    updateCustomer(
      userId: string,
      patch: Partial<Pick<CustomerProfile, 'email' | 'fullName' | 'contactNumber'>> & { customerStatus?: CustomerStatus },
    ): Promise<ServiceResponse<CrmsCustomerBody>> {
      return client.request<CrmsCustomerBody>('PATCH', `/api/customers/internal/user/${encodeURIComponent(userId)}`, patch);
    },
    close: () => client.close(),
  };
}

export type CrmsClient = ReturnType<typeof createCrmsClient>;
