import { errorResponses } from '@shop/service-kit';

/** Error envelopes documented (and serialised) on every route. */
export const internalErrors = errorResponses(400, 401, 404, 409, 500);
export const bearerErrors = errorResponses(400, 401, 403, 404, 500, 502, 503);
