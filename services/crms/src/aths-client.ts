import { createServiceClient, HttpError, ServiceUnavailableError, type Logger } from '@shop/service-kit';

/** The part of ATHS's public user shape CRMS reads. */
export interface AthsUser {
  _id: string;
  email: string;
  fullName: string;
  contactNumber: string;
  role: string;
  isActive: boolean;
}

export type AthsUserLookup = { found: true; user: AthsUser } | { found: false };

const athsUnavailable = (detail: string) =>
  new HttpError(503, 'Authentication service unavailable', [{ field: 'aths', message: detail }]);

/**
 * CRMS → ATHS: the internal user look-up behind repair-on-read (GET /api/internal/user/{userId}, x-api-key).
 * A keep-alive pool with a 5 s deadline; an unreachable or misbehaving ATHS becomes a 503 in the envelope.
 */
export function createAthsClient(options: { baseUrl: string; apiKey: string; logger: Logger; timeoutMs?: number }) {
  const client = createServiceClient({ baseUrl: options.baseUrl, apiKey: options.apiKey, timeoutMs: options.timeoutMs ?? 5_000, connections: 8 });

  async function getUser(userId: string): Promise<AthsUserLookup> {
    let response;
    try {
      response = await client.request<{ data?: { user?: AthsUser } }>('GET', `/api/internal/user/${encodeURIComponent(userId)}`);
    } catch (error) {
      if (error instanceof ServiceUnavailableError) {
        options.logger.warn({ userId, error: error.message }, 'ATHS user look-up failed');
        throw athsUnavailable('The authentication service did not answer; try again shortly');
      }
      throw error;
    }
    if (response.status === 404) return { found: false };
    const user = response.body?.data?.user;
    if (response.status !== 200 || !user || typeof user !== 'object') {
      options.logger.error({ userId, status: response.status }, 'ATHS user look-up answered unexpectedly');
      throw athsUnavailable('The authentication service could not provide the user profile');
    }
    return { found: true, user };
  }

  return { getUser, close: () => client.close() };
}

export type AthsClient = ReturnType<typeof createAthsClient>;
