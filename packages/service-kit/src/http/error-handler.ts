import type { FastifyError } from 'fastify';
import type { App } from './app.ts';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { databaseUnavailable, errorBody, HttpError, SERVER_ERROR, type FieldError } from './envelope.ts';
import { validationFieldErrors } from './validation-messages.ts';
import { isDatabaseUnavailable, rootCause } from '../db/availability.ts';

/** Field named in the envelope for Fastify's own 4xx errors (body parsing, limits, media type). */
function fieldForFastifyError(error: FastifyError): string {
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || error.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
    return 'header -> content-type';
  }
  if (error.statusCode === 429) return 'rate-limit';
  return 'body';
}

const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'Request body is too large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Unsupported media type: send application/json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'Request body must not be empty when content-type is application/json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'Request body is not valid JSON',
};

/**
 * Every error leaves in the contract's envelope: validation → 400 with one entry per problem, handler errors
 * with their own status, Fastify's 4xx with a readable message, the database being unreachable as a 503, and
 * anything else as a 500 that leaks nothing.
 */
export function installErrorHandler(app: App): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const errors = validationFieldErrors(error.validation, error.validationContext);
      return reply.code(400).send(errorBody('Validation failed', errors));
    }
    if (error instanceof HttpError) {
      if (error.statusCode >= 500) request.log.error({ err: error }, 'request failed');
      return reply.code(error.statusCode).send(errorBody(error.message, error.errors));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const isJsonSyntax = error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY';
      const message = isJsonSyntax
        ? FASTIFY_MESSAGES.FST_ERR_CTP_INVALID_JSON_BODY!
        : (FASTIFY_MESSAGES[error.code] ?? error.message);
      const errors: FieldError[] = [{ field: fieldForFastifyError(error), message }];
      return reply.code(status).send(errorBody(message, errors));
    }
    if (isDatabaseUnavailable(error)) {
      // A restart or failover in progress: the client may retry, nothing here is a bug.
      request.log.warn({ database: rootCause(error) }, 'database unavailable');
      const unavailable = databaseUnavailable();
      return reply.code(503).header('retry-after', '1').send(errorBody(unavailable.message, unavailable.errors));
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send(errorBody('Internal server error', [SERVER_ERROR]));
  });
}
