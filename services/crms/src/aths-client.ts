import { defineServiceClient, HttpError, ServiceUnavailableError, type Logger, type ServiceClientOptions } from '@shop/service-kit';

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
export function createAthsClient(options: ServiceClientOptions & { logger: Logger }) {
  const { logger, ...clientOptions } = options;
  return defineServiceClient({ ...clientOptions, connections: clientOptions.connections ?? 8 }, (request) => ({
    async getUser(userId: string): Promise<AthsUserLookup> {
      let response;
      try {
        response = await request<{ data?: { user?: AthsUser } }>('GET', `/api/internal/user/${encodeURIComponent(userId)}`);
      } catch (error) {
        if (error instanceof ServiceUnavailableError) {
          logger.warn({ userId, error: error.message }, 'ATHS user look-up failed');
          throw athsUnavailable('The authentication service did not answer; try again shortly');
        }
        throw error;
      }
      if (response.status === 404) return { found: false };
      const user = response.body?.data?.user;
      if (response.status !== 200 || !user || typeof user !== 'object') {
        logger.error({ userId, status: response.status }, 'ATHS user look-up answered unexpectedly');
        throw athsUnavailable('The authentication service could not provide the user profile');
      }
      return { found: true, user };
    },
  }));
}

export type AthsClient = ReturnType<typeof createAthsClient>;
