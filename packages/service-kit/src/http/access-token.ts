import { errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { unauthorized } from './envelope.ts';

export const ROLES = ['Customer', 'Administrator'] as const;
export type Role = (typeof ROLES)[number];

export interface AccessClaims {
  userId: string;
  email: string;
  role: Role;
}

/** Access tokens carry `token_use: "access"` and header `typ: at+jwt` (RFC 9068), so no other JWT passes as one. */
export const ACCESS_TOKEN_USE = 'access';
export const ACCESS_TOKEN_TYP = 'at+jwt';
export const ACCESS_TOKEN_ALGORITHMS = ['EdDSA', 'ES256'];

const invalidToken = (detail: string) => unauthorized('Invalid or expired token', 'token', detail);

/** Verifies access tokens against a key set (ATHS: its own keys; CRMS: ATHS's JWKS over HTTP, cached). */
export function accessTokenVerifier(options: { keys: JWTVerifyGetKey; issuer: string; audience: string }) {
  return async function verifyAccessToken(token: string): Promise<AccessClaims> {
    try {
      const { payload } = await jwtVerify(token, options.keys, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: ACCESS_TOKEN_ALGORITHMS,
        typ: ACCESS_TOKEN_TYP,
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      const role = payload.role as Role;
      if (payload.token_use !== ACCESS_TOKEN_USE || !ROLES.includes(role) || typeof payload.email !== 'string') {
        throw invalidToken('The token is not an access token');
      }
      return { userId: payload.sub!, email: payload.email, role };
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw invalidToken('The access token has expired');
      if (error instanceof joseErrors.JOSEError) throw invalidToken('The access token is invalid');
      throw error;
    }
  };
}
