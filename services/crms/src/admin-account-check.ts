import { forbidden, HttpError, unauthorized, type AccessClaims, type Logger } from '@shop/service-kit';
import { Counter, type Registry } from 'prom-client';
import type { AthsUserLookup } from './aths-client.ts';

/** What ATHS said about an account: its role and whether it is active, or null when it no longer exists. */
type AccountState = { role: string; isActive: boolean } | null;

interface Entry {
  state: AccountState;
  /** When the look-up that produced it was sent (not answered): ATHS's answer is at least this fresh. */
  checkedAt: number;
}

export interface AdminAccountCheckOptions {
  /** ATHS's internal user look-up (GET /api/internal/user/{userId}); throws a 503 HttpError when ATHS cannot answer. */
  getUser: (userId: string) => Promise<AthsUserLookup>;
  /** How long an answer from ATHS is trusted: the bound on a demoted, deactivated or deleted administrator. */
  ttlMs: number;
  /** While ATHS cannot be reached, an answer younger than this is still used; after it, 503 (fail closed). */
  maxStaleMs: number;
  logger: Logger;
  metrics: Registry;
  /** Distinct administrators remembered (the least recently fetched forgotten first). */
  maxEntries?: number;
}

const accountUnverifiable = () =>
  new HttpError(503, 'Authentication service unavailable', [
    { field: 'aths', message: 'The administrator account cannot be checked with the authentication service right now; try again shortly' },
  ]);

/**
 * CRMS's Administrator check after the token's signature and role: ATHS's current role and `isActive`, cached per user
 * for `ttlMs`, answered like ATHS's own guard (docs/crms.md, "Stale administrator tokens").
 */
export function createAdminAccountCheck(options: AdminAccountCheckOptions): (claims: AccessClaims) => Promise<boolean> {
  const { ttlMs, logger } = options;
  const maxStaleMs = Math.max(options.maxStaleMs, ttlMs);
  const maxEntries = options.maxEntries ?? 10_000;
  const entries = new Map<string, Entry>();
  const inFlight = new Map<string, { sentAt: number; answer: Promise<Entry> }>();
  const checks = new Counter({
    name: 'crms_admin_account_checks_total',
    help: 'Administrator account checks against ATHS by outcome: cached, fetched, stale (ATHS unreachable, last answer used) or unavailable (503)',
    labelNames: ['outcome'],
    registers: [options.metrics],
  });

  function remember(userId: string, entry: Entry): void {
    const current = entries.get(userId);
    if (current && current.checkedAt > entry.checkedAt) return;
    entries.delete(userId); // re-inserted last: Map order is then least recently fetched first
    entries.set(userId, entry);
    if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
  }

  function lookUp(userId: string): Promise<Entry> {
    const now = Date.now();
    const pending = inFlight.get(userId);
    // Concurrent misses share one call, but never one sent so long ago that its answer would already be stale.
    if (pending && now - pending.sentAt < ttlMs) return pending.answer;
    const answer = options.getUser(userId).then((lookup) => {
      const entry: Entry = {
        state: lookup.found ? { role: lookup.user.role, isActive: lookup.user.isActive } : null,
        checkedAt: now,
      };
      remember(userId, entry);
      return entry;
    });
    const flight = { sentAt: now, answer };
    inFlight.set(userId, flight);
    const forget = () => {
      if (inFlight.get(userId) === flight) inFlight.delete(userId);
    };
    answer.then(forget, forget);
    return answer;
  }

  async function current(userId: string): Promise<AccountState> {
    const cached = entries.get(userId);
    if (cached && Date.now() - cached.checkedAt < ttlMs) {
      checks.inc({ outcome: 'cached' });
      return cached.state;
    }
    try {
      const entry = await lookUp(userId);
      checks.inc({ outcome: 'fetched' });
      return entry.state;
    } catch (error) {
      if (!(error instanceof HttpError) || error.statusCode !== 503) throw error;
      const last = entries.get(userId);
      if (last && Date.now() - last.checkedAt < maxStaleMs) {
        checks.inc({ outcome: 'stale' });
        logger.warn({ userId, ageMs: Date.now() - last.checkedAt }, 'ATHS unreachable: administrator checked against its last answer');
        return last.state;
      }
      checks.inc({ outcome: 'unavailable' });
      throw accountUnverifiable();
    }
  }

  return async function isAdministratorActive(claims: AccessClaims): Promise<boolean> {
    const state = await current(claims.userId);
    if (!state) throw unauthorized('Invalid or expired token', 'token', 'The account no longer exists');
    if (state.role !== 'Administrator') throw forbidden('Insufficient permissions', 'role', 'This action requires role Administrator');
    return state.isActive;
  };
}
