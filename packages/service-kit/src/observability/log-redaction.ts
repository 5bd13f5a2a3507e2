import { DrizzleQueryError } from 'drizzle-orm';

/**
 * What may reach a log line from a request URL or an error: the shape, never the values. Why each rule exists:
 * docs/logging.md.
 */
const REDACTED = '[redacted]';

/** A query parameter name worth keeping (`page`, `x-api-key`, `filter[status]`); anything else may be a value. */
const PARAMETER_NAME = /^[A-Za-z0-9_.\-[\]]{1,64}$/;

/** A path segment that may carry an e-mail address (`/api/internal/user/email/{email}`). */
const mayHoldEmail = (segment: string) => segment.includes('@') || segment.includes('%40');

/**
 * A request URL for the log: every query value replaced (names kept), a fragment dropped, and path segments holding
 * an `@` replaced, so keys sent as `?x-api-key=`, mailed tokens and searched e-mail addresses never reach the log.
 */
export function urlForLog(url: string): string {
  const queryAt = url.search(/[?#]/);
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const safePath = mayHoldEmail(path) ? path.split('/').map((part) => (mayHoldEmail(part) ? REDACTED : part)).join('/') : path;
  if (queryAt === -1) return safePath;
  if (url[queryAt] === '#') return safePath;
  const query = url.slice(queryAt + 1).split('#', 1)[0]!;
  const pairs = query.split('&').map((pair) => {
    const equals = pair.indexOf('=');
    if (pair === '') return pair;
    // A bare `?word` may be a key itself.
    if (equals <= 0) return REDACTED;
    const name = pair.slice(0, equals);
    return PARAMETER_NAME.test(name) ? `${name}=${REDACTED}` : REDACTED;
  });
  return `${safePath}?${pairs.join('&')}`;
}

/** Query values of any URL inside free text (an error message, Fastify's "Reply was already sent … in "/x?…""). */
const QUERY_VALUE_IN_TEXT = /([?&][^\s=&?#"'<>]+=)[^\s&#"'<>]*/g;

export function textForLog(text: string): string {
  return text.includes('=') ? text.replace(QUERY_VALUE_IN_TEXT, `$1${REDACTED}`) : text;
}

/**
 * PostgreSQL quotes identifiers after the word naming them (`relation "users"`, `constraint "users_email_key"`) and
 * input values anywhere else (`invalid input syntax for type uuid: "…"`, `value "…" is out of range`).
 */
const IDENTIFIER_WORDS =
  /(?:relation|constraint|column|table|index|schema|type|function|database|role|sequence|view|encoding|operator|extension|trigger|domain|parameter|cursor|statement|savepoint|collation|tablespace|policy|portal) $/;

function databaseMessageForLog(message: string): string {
  // A value quoted at the end of the message may itself hold quotes: take everything up to the last one.
  let text = message.replace(/: ".*"$/s, `: "${REDACTED}"`);
  text = text.replace(/"[^"]*"/g, (quoted, offset: number) =>
    IDENTIFIER_WORDS.test(text.slice(Math.max(0, offset - 16), offset)) || quoted === `"${REDACTED}"` ? quoted : `"${REDACTED}"`,
  );
  // invalid byte sequence for encoding "UTF8": 0xed 0xa0 0x80
  return text.replace(/: 0x[0-9a-f]{2}(?: 0x[0-9a-f]{2})*$/i, `: ${REDACTED}`);
}

/** An error from PostgreSQL or PGlite: a SQLSTATE and a severity. */
function isDatabaseError(error: Record<string, unknown>): boolean {
  return typeof error.severity === 'string' && typeof error.code === 'string' && /^[0-9A-Z]{5}$/.test(error.code);
}

/**
 * Fields of a database error kept in the log. Never `detail` (`Key (email)=(…) already exists`, `Failing row
 * contains (…)`), `where` (`unnamed portal parameter $1 = '…'`), `hint`, `internalQuery`, nor the `params` PGlite
 * and drizzle attach.
 */
const DATABASE_FIELDS = ['code', 'severity', 'table', 'column', 'constraint', 'schema', 'dataType', 'routine'] as const;

/** An error's message as it may be logged: no query parameters, no quoted input values, no query-string values. */
export function messageForLog(error: unknown): string {
  if (error instanceof DrizzleQueryError) return `Failed query: ${error.query} (parameters withheld)`;
  const fields = error !== null && typeof error === 'object' ? (error as Record<string, unknown>) : undefined;
  const message = fields ? fields.message : error;
  const text = typeof message === 'string' ? message : String(message);
  return fields && isDatabaseError(fields) ? databaseMessageForLog(text) : textForLog(text);
}

/** The stack with its first line(s), which repeat the raw message, replaced by the safe one. */
function stackForLog(stack: string, type: string, message: string): string {
  const frames = stack.indexOf('\n    at ');
  return frames === -1 ? `${type}: ${message}` : `${type}: ${message}${stack.slice(frames)}`;
}

/**
 * pino's `err` serializer: type, safe message and stack, code and status, the database error fields above, the
 * failed statement's text (placeholders, never values), and the cause chain; nothing else an error carries.
 */
export function errorForLog(error: unknown, depth = 0): unknown {
  if (error === null || typeof error !== 'object') return typeof error === 'string' ? textForLog(error) : error;
  const fields = error as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  // One name for PostgreSQL's and PGlite's errors (PGlite's class name is minified).
  const type = isDatabaseError(fields) ? 'DatabaseError' : error instanceof Error ? (error.constructor?.name ?? error.name) : undefined;
  if (type) out.type = type;
  out.message = messageForLog(error);
  if (typeof fields.field === 'string') out.field = fields.field;
  if (typeof fields.stack === 'string') out.stack = stackForLog(fields.stack, type ?? 'Error', out.message as string);
  if (error instanceof DrizzleQueryError) out.query = error.query;
  if (isDatabaseError(fields)) {
    for (const name of DATABASE_FIELDS) if (typeof fields[name] === 'string') out[name] = fields[name];
  } else {
    if (typeof fields.code === 'string' || typeof fields.code === 'number') out.code = fields.code;
    if (typeof fields.statusCode === 'number') out.statusCode = fields.statusCode;
  }
  if (Array.isArray(fields.errors) && depth < 5) out.errors = fields.errors.slice(0, 10).map((item) => errorForLog(item, depth + 1));
  if (fields.cause !== undefined && depth < 5) out.cause = errorForLog(fields.cause, depth + 1);
  return out;
}

/** pino's `req` serializer (Fastify logs `{ req }` on its own error paths): method and a safe URL only. */
export function requestForLog(request: unknown): unknown {
  if (request === null || typeof request !== 'object') return request;
  const { method, url } = request as { method?: unknown; url?: unknown };
  return { method, url: typeof url === 'string' ? urlForLog(url) : url };
}
