import { defineServiceClient, type ServiceClientOptions, type ServiceResponse } from '@shop/service-kit';

/** CRMS → ATHS: PATCH /api/internal/user/{userId}/status (`apiKey`: ATHS_SERVICE_API_KEY, never logged). */
export function createAthsStatusClient(options: ServiceClientOptions) {
  return defineServiceClient({ ...options, connections: options.connections ?? 8 }, (request) => ({
    setUserActive(userId: string, isActive: boolean): Promise<ServiceResponse> {
      return request('PATCH', `/api/internal/user/${encodeURIComponent(userId)}/status`, { isActive });
    },
  }));
}
