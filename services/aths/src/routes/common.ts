import { errorBodySchema } from '@shop/service-kit';

/** Error responses documented on every route (the envelope is the same for all). */
export const errorResponses = (...codes: number[]) => Object.fromEntries(codes.map((code) => [code, errorBodySchema]));

export const bearerSecurity = [{ bearer: [] }];
export const apiKeySecurity = [{ apiKey: [] }];

