import { errorBodySchema } from '@shop/service-kit';

/** Error envelopes documented (and serialised) on every route. */
export const internalErrors = {
  400: errorBodySchema,
  401: errorBodySchema,
  404: errorBodySchema,
  409: errorBodySchema,
  500: errorBodySchema,
};

export const bearerErrors = {
  400: errorBodySchema,
  401: errorBodySchema,
  403: errorBodySchema,
  404: errorBodySchema,
  500: errorBodySchema,
  502: errorBodySchema,
  503: errorBodySchema,
};

export const API_KEY_SECURITY = [{ apiKey: [] }];
export const BEARER_SECURITY = [{ bearer: [] }];

