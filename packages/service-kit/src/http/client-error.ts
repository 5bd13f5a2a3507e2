import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { errorBody, type FieldError } from './envelope.ts';

/** What Node's HTTP parser refuses before Fastify sees a request, as the contract's envelope. */
function answerFor(code: string | undefined): { status: number; message: string; error: FieldError } {
  if (code === 'HPE_HEADER_OVERFLOW') {
    const message = 'Request headers are too large';
    return { status: 431, message, error: { field: 'header', message: 'The request headers exceed 16 KB' } };
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    const message = 'Request timed out';
    return { status: 408, message, error: { field: 'request', message: 'The request was not received in time' } };
  }
  const message = 'Malformed HTTP request';
  return { status: 400, message, error: { field: 'request', message: 'The request is not valid HTTP/1.1' } };
}

/**
 * Fastify's `clientErrorHandler`: Node's 431/408/400 in the envelope with a new request id, then the connection closed.
 * The error itself is never logged: its `rawPacket` holds every header (docs/logging.md).
 */
export function clientErrorHandler(headers: ReadonlyArray<readonly [string, string]>) {
  return function answerClientError(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
    // A reset connection, or one already gone: nobody to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const { status, message, error: field } = answerFor(error.code);
    const requestId = randomUUID();
    this.log.info({ requestId, statusCode: status, code: error.code }, 'request refused by the HTTP parser');
    if (socket.writable) {
      const body = JSON.stringify(errorBody(message, [field]));
      const lines = [
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
        'content-type: application/json; charset=utf-8',
        `content-length: ${Buffer.byteLength(body)}`,
        `x-request-id: ${requestId}`,
        ...headers.map(([name, value]) => `${name}: ${value}`),
        'connection: close',
      ];
      socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
    }
    socket.destroy(error);
  };
}
