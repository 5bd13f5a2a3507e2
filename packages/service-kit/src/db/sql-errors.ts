/** One link of an error chain: the fields the drivers (node-postgres, PGlite) and drizzle's wrapper may set. */
export interface ErrorLink {
  code?: unknown;
  message?: unknown;
  constraint?: unknown;
  cause?: unknown;
}

/** An error and the errors it wraps through `cause` (drizzle wraps the driver's error), outermost first. */
export function* errorChain(error: unknown, maxDepth = 6): Generator<ErrorLink> {
  let current = error;
  for (let depth = 0; depth < maxDepth && current !== null && typeof current === 'object'; depth++) {
    yield current;
    current = (current as ErrorLink).cause;
  }
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** PostgreSQL's SQLSTATE of a failed statement, from either driver, also when drizzle wrapped the error. */
export function sqlStateOf(error: unknown): string | undefined {
  for (const link of errorChain(error)) {
    if (typeof link.code === 'string' && SQLSTATE.test(link.code)) return link.code;
  }
  return undefined;
}

/** Whether a statement broke a unique constraint (23505): any, or the one named (assumed when the driver names none). */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (sqlStateOf(error) !== '23505') return false;
  if (constraint === undefined) return true;
  for (const link of errorChain(error)) {
    if (typeof link.constraint === 'string') return link.constraint === constraint;
  }
  return true;
}
