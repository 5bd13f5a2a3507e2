import { errorBodySchema } from '@shop/service-kit';

/** Error responses documented on every route (the envelope is the same for all). */
export const errorResponses = (...codes: number[]) => Object.fromEntries(codes.map((code) => [code, errorBodySchema]));

export const bearerSecurity = [{ bearer: [] }];
export const apiKeySecurity = [{ apiKey: [] }];

/** `ok()` with data that is always present (so it matches the route's response schema type). */
export function okWith<T>(message: string, data: T): { success: true; message: string; data: T } {
  return { success: true, message, data };
}
