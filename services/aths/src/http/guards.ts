import { apiKeyGuard, bearerGuard, forbidden, unauthorized, type AccessClaims, type Role } from '@shop/service-kit';

export interface GuardDeps {
  /** The kit's accessTokenVerifier over this instance's own key set. */
  verifyAccessToken: (token: string) => Promise<AccessClaims>;
  /** The account's current state, re-read on every request so that deactivation and role changes act at once. */
  accountState: (userId: string) => Promise<{ isActive: boolean; role: Role } | undefined>;
  /** SERVICE_API_KEYS. */
  apiKeys: readonly string[];
}

/** The onRequest guards of ATHS's routes (authentication runs before body validation). */
export function createGuards(deps: GuardDeps) {
  const { verifyAccessToken: verify } = deps;
  const checkAccount = async (claims: AccessClaims, role?: 'Administrator') => {
    const state = await deps.accountState(claims.userId);
    if (!state) throw unauthorized('Invalid or expired token', 'token', 'The account no longer exists');
    // A role change takes effect at once, not when the old token expires.
    if (role && state.role !== role) {
      throw forbidden('Insufficient permissions', 'role', `This action requires role ${role}`);
    }
    return state.isActive;
  };
  return {
    /** Any signed-in, active user. */
    user: bearerGuard({ verify, isAccountActive: (claims) => checkAccount(claims) }),
    /** Active Administrators. */
    administrator: bearerGuard({ verify, roles: ['Administrator'], isAccountActive: (claims) => checkAccount(claims, 'Administrator') }),
    /** Service API key on `x-service-api-key` or `x-api-key`. */
    internal: apiKeyGuard(deps.apiKeys, ['x-service-api-key', 'x-api-key']),
  };
}

export type Guards = ReturnType<typeof createGuards>;
