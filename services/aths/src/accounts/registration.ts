import {
  conflict,
  forbidden,
  HttpError,
  isUniqueViolation,
  mayHaveCommitted,
  newObjectId,
  retryWhileUnavailable,
  withSpan,
  type Database,
  type Logger,
  type Role,
} from '@shop/service-kit';
import type { AthsMetrics } from '../metrics.ts';
import type { OneTimeTokens } from '../one-time-tokens/service.ts';
import type { Sessions, TokenPair } from '../sessions/service.ts';
import { toUserRecord, type UserLifecycleHooks } from '../users/lifecycle-hooks.ts';
import type { PasswordHasher } from '../users/passwords.ts';
import * as repo from '../users/repository.ts';
import type { Address, UserRow } from '../users/schema.ts';
import type { EmailVerification } from './email-verification.ts';
import { insertAccount } from './repository.ts';
import { cleanAddress, userWriter } from './user-writes.ts';

export interface NewUserInput {
  email: string;
  password: string;
  fullName: string;
  contactNumber: string;
  address?: Address;
  role?: Role;
}

export interface RegistrationDeps {
  db: Database;
  hooks: UserLifecycleHooks;
  passwords: PasswordHasher;
  sessions: Sessions;
  oneTimeTokens: OneTimeTokens;
  emailVerification: EmailVerification;
  logger: Logger;
  metrics: AthsMetrics;
  /** DB_CONNECT_TIMEOUT_MS: how long to wait for the database to say whether a cut-off registration committed. */
  connectTimeoutMs: number;
}

const emailTaken = () => conflict('Email is already registered', 'email', 'An account with this email already exists');
const isEmailTaken = (error: unknown) => isUniqueViolation(error, 'users_email_lower_unique');

/** New accounts: public registration (Customers), an administrator's create (any role), the first administrator. */
export function createRegistration(deps: RegistrationDeps) {
  const { db, hooks, passwords, sessions, oneTimeTokens, emailVerification, logger, metrics } = deps;
  const { write, afterCommit } = userWriter(deps);

  const newUser = (id: string, input: Omit<NewUserInput, 'role'>, passwordHash: string, role: Role, emailVerified = false): repo.NewUser => ({
    id,
    email: input.email,
    passwordHash,
    fullName: input.fullName,
    contactNumber: input.contactNumber,
    address: cleanAddress(input.address),
    role,
    emailVerified,
  });

  /**
   * After a registration failed with the connection lost mid-write (a database restart), whether it committed all
   * the same, asked once the database answers again (up to connectTimeoutMs): a 503 must not hide an account that
   * exists. Undefined when it did not commit; throws the original error when the database does not answer in time.
   */
  async function committedDespite(error: unknown, userId: string): Promise<UserRow | undefined> {
    if (!mayHaveCommitted(error)) return undefined;
    const user = await retryWhileUnavailable(() => repo.findUserById(db, userId), deps.connectTimeoutMs).catch(() => {
      throw error;
    });
    logger.warn({ userId, committed: user !== undefined }, 'registration: connection lost mid-write; outcome read back');
    return user;
  }

  /** An administrator creates a user of any role (also the CLI and the first administrator). */
  async function createUser(input: NewUserInput & { role: Role; emailVerified?: boolean }, options: { sendVerification?: boolean } = {}): Promise<UserRow> {
    const passwordHash = await passwords.hash(input.password);
    const id = newObjectId();
    const verification = options.sendVerification !== false && !input.emailVerified ? oneTimeTokens.create(id, 'email_verification') : null;
    let user: UserRow;
    try {
      user = await write(async (tx) => {
        const row = await insertAccount(tx, newUser(id, input, passwordHash, input.role, input.emailVerified), { verification: verification?.record });
        await hooks.onUserCreated(tx, toUserRecord(row));
        return row;
      });
    } catch (error) {
      if (isEmailTaken(error)) throw emailTaken();
      throw error;
    }
    metrics.registrations.inc({ role: user.role });
    if (verification) emailVerification.send(user, verification.token);
    return user;
  }

  return {
    createUser,

    /**
     * Public registration, Customers only. One transaction: the user, their refresh-token family, the verification
     * token and the lifecycle hooks (provisioning's outbox row); the Argon2id hash is computed before it opens.
     */
    async register(input: Omit<NewUserInput, 'role'> & { role?: string }): Promise<{ user: UserRow; tokens: TokenPair }> {
      if (input.role !== undefined && input.role !== 'Customer') {
        throw forbidden(
          'Registration can only create Customer accounts',
          'body -> role',
          'Only the Customer role can be chosen at registration; administrators are created by an administrator',
        );
      }
      const passwordHash = await passwords.hash(input.password);
      const id = newObjectId();
      // Made before the transaction, so that a registration found committed after a lost connection can answer with them.
      const refresh = sessions.newRefreshToken(id);
      const verification = oneTimeTokens.create(id, 'email_verification');
      let user: UserRow;
      try {
        // Its span is the parent of the provisioning outbox row's delivery attempts (README "Tracing").
        user = await withSpan('registration transaction', { attributes: { 'db.system.name': 'postgresql', 'user.id': id } }, () =>
          write(async (tx) => {
            const row = await insertAccount(tx, newUser(id, input, passwordHash, 'Customer'), { refresh: refresh.record, verification: verification.record });
            await hooks.onUserCreated(tx, toUserRecord(row));
            return row;
          }),
        );
      } catch (error) {
        if (isEmailTaken(error)) throw emailTaken();
        const committed = await committedDespite(error, id);
        if (!committed) throw error;
        afterCommit();
        user = committed;
      }
      metrics.registrations.inc({ role: 'Customer' });
      emailVerification.send(user, verification.token);
      return { user, tokens: await sessions.pair(user, refresh.token) };
    },

    /** The first administrator (ADMIN_EMAIL / ADMIN_PASSWORD): created when no user has that e-mail, never overwritten. */
    async ensureAdministrator(email: string, password: string, fullName = 'Administrator'): Promise<'created' | 'exists'> {
      const existing = await repo.findUserByEmail(db, email);
      if (existing) {
        if (existing.role !== 'Administrator') {
          logger.warn({ userId: existing.id }, 'ADMIN_EMAIL belongs to an existing user who is not an Administrator; left unchanged');
        }
        return 'exists';
      }
      try {
        await createUser(
          { email: email.trim().toLowerCase(), password, fullName, contactNumber: '0000000000', role: 'Administrator', emailVerified: true },
          { sendVerification: false },
        );
        return 'created';
      } catch (error) {
        // Several instances starting together: one creates it, the others find the e-mail taken.
        if (error instanceof HttpError && error.statusCode === 409) return 'exists';
        throw error;
      }
    },
  };
}

export type Registration = ReturnType<typeof createRegistration>;
