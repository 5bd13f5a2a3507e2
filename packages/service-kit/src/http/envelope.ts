import { z } from 'zod';

export interface FieldError {
  field: string;
  message: string;
}

export interface SuccessBody<T> {
  success: true;
  message: string;
  data?: T;
}

export interface ErrorBody {
  success: false;
  message: string;
  errors: FieldError[];
}

/** The success envelope: `ok(message)`, or `ok(message, data)` whose type says `data` is there (as route schemas do). */
export function ok(message: string): SuccessBody<never>;
export function ok<T>(message: string, data: T): { success: true; message: string; data: T };
export function ok<T>(message: string, data?: T): SuccessBody<T> {
  return data === undefined ? { success: true, message } : { success: true, message, data };
}

export function errorBody(message: string, errors: FieldError[]): ErrorBody {
  return { success: false, message, errors };
}

/** An error a handler throws to answer with a 4xx (or a deliberate 5xx) in the contract's envelope. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly statusCode: number,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
  }
}

const fail = (status: number) => (message: string, field: string, detail: string = message) =>
  new HttpError(status, message, [{ field, message: detail }]);

export const badRequest = fail(400);
export const unauthorized = fail(401);
export const forbidden = fail(403);
export const notFound = fail(404);
export const conflict = fail(409);

/** The 503 every route answers while the database is unavailable (db/availability.ts tells which errors mean that). */
export function databaseUnavailable(): HttpError {
  return new HttpError(503, 'Database unavailable', [
    { field: 'database', message: 'The database is not reachable at the moment; try again shortly' },
  ]);
}

export const SERVER_ERROR: FieldError = {
  field: 'server',
  message: 'An unexpected error occurred. Please try again later.',
};

/** zod schemas for documenting envelopes in OpenAPI. */
export const fieldErrorSchema = z.object({ field: z.string(), message: z.string() });
export const errorBodySchema = z.object({
  success: z.literal(false),
  message: z.string(),
  errors: z.array(fieldErrorSchema),
});
export function successSchema<T extends z.ZodType>(data: T) {
  return z.object({ success: z.literal(true), message: z.string(), data });
}
export const messageOnlySchema = z.object({ success: z.literal(true), message: z.string() });
/** A route's documented error statuses (every error has the same envelope). */
export const errorResponses = (...codes: number[]) => Object.fromEntries(codes.map((code) => [code, errorBodySchema]));
