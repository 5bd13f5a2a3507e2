import { createServiceClient, type ServiceResponse } from '@shop/service-kit';

export interface AthsStatusClientOptions {
  baseUrl: string;
  /** Sent as `x-api-key` (ATHS_SERVICE_API_KEY); never logged. */
  apiKey: string;
  timeoutMs?: number;
  connections?: number;
}

/** CRMS → ATHS: PATCH /api/internal/user/{userId}/status over the kit's keep-alive service client. */
export function createAthsStatusClient(options: AthsStatusClientOptions) {
  const client = createServiceClient({
    baseUrl: options.baseUrl,
    apiKey: options.apiKey,
    timeoutMs: options.timeoutMs ?? 5_000,
    connections: options.connections ?? 8,
  });
  return {
    baseUrl: client.baseUrl,
    setUserActive(userId: string, isActive: boolean): Promise<ServiceResponse> {
      return client.request('PATCH', `/api/internal/user/${encodeURIComponent(userId)}/status`, { isActive });
    },
    close: () => client.close(),
  };
}

export type AthsStatusClient = ReturnType<typeof createAthsStatusClient>;
