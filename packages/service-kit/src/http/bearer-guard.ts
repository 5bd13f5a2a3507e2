import type { FastifyReply, FastifyRequest } from 'fastify';
import { forbidden, unauthorized } from './envelope.ts';
import type { AccessClaims, Role } from './access-token.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by bearerGuard: who is calling. */
    auth: AccessClaims | null;
  }
}

export interface BearerGuardOptions {
  /** Verifies the token and returns its claims; throws an HttpError (401 field `token`) when it is not valid. */
  verify: (token: string) => Promise<AccessClaims>;
  /** Roles allowed through; every role when omitted. */
  roles?: readonly Role[];
  /** Answers whether the account may still act (e.g. not deactivated since the token was issued). */
  isAccountActive?: (claims: AccessClaims) => Promise<boolean>;
}

// The scheme is case-insensitive (RFC 7235 §2.1: `bearer`, `BEARER`); the token (RFC 6750 b64token) is not.
const BEARER = /^Bearer +([A-Za-z0-9\-_.~+/]+=*)$/i;

/** The token of an `Authorization: Bearer <token>` header, or undefined when the header is missing or malformed. */
export function bearerTokenOf(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' ? BEARER.exec(header.trim())?.[1] : undefined;
}

/** The OpenAPI security requirement of routes behind bearerGuard (the `bearer` scheme buildServer declares). */
export const BEARER_SECURITY = [{ bearer: [] }];

export function bearerGuard(options: BearerGuardOptions) {
  return async function checkBearer(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const token = bearerTokenOf(request.headers.authorization);
    if (token === undefined) {
      throw unauthorized('Access token is required', 'authorization', 'Send an Authorization: Bearer <access token> header');
    }
    const claims = await options.verify(token);
    if (options.roles && !options.roles.includes(claims.role)) {
      throw forbidden('Insufficient permissions', 'role', `This action requires role ${options.roles.join(' or ')}`);
    }
    if (options.isAccountActive && !(await options.isAccountActive(claims))) {
      throw forbidden('Account is deactivated', 'account', 'This account has been deactivated');
    }
    request.auth = claims;
  };
}

/** The caller of a route behind bearerGuard. */
export function authOf(request: FastifyRequest): AccessClaims {
  if (!request.auth) throw unauthorized('Access token is required', 'authorization');
  return request.auth;
}
