import type { FastifyReply, FastifyRequest } from 'fastify';
import { forbidden, unauthorized } from './envelope.ts';
import type { AccessClaims, Role } from '../auth/access-token.ts';

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

const BEARER = /^Bearer ([A-Za-z0-9\-_.~+/]+=*)$/;

export function bearerGuard(options: BearerGuardOptions) {
  return async function checkBearer(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? BEARER.exec(header.trim()) : null;
    if (!match) {
      throw unauthorized('Access token is required', 'authorization', 'Send an Authorization: Bearer <access token> header');
    }
    const claims = await options.verify(match[1]!);
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
