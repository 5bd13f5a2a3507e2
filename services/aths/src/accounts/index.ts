import type { Database, Logger } from '@shop/service-kit';
import type { AthsConfig } from '../config.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { AthsMetrics } from '../metrics.ts';
import { createOneTimeTokens } from '../one-time-tokens/service.ts';
import type { Sessions } from '../sessions/service.ts';
import type { UserLifecycleHooks } from '../users/lifecycle-hooks.ts';
import type { PasswordHasher } from '../users/passwords.ts';
import { createAdministration } from './administration.ts';
import { createCredentials } from './credentials.ts';
import { createEmailVerification } from './email-verification.ts';
import { createUserLookups } from './lookups.ts';
import { createProfile } from './profile.ts';
import { createRegistration } from './registration.ts';

export interface AccountsDeps {
  db: Database;
  hooks: UserLifecycleHooks;
  passwords: PasswordHasher;
  sessions: Sessions;
  mailer: Mailer;
  config: AthsConfig;
  logger: Logger;
  metrics: AthsMetrics;
}

/** The account use cases on one set of dependencies; app.ts hands each route module the ones it uses. */
export function createAccounts(deps: AccountsDeps) {
  const { db, config } = deps;
  const oneTimeTokens = createOneTimeTokens({ password_reset: config.PASSWORD_RESET_TTL, email_verification: config.EMAIL_VERIFICATION_TTL });
  const emailVerification = createEmailVerification({
    db,
    oneTimeTokens,
    mailer: deps.mailer,
    publicBaseUrl: config.PUBLIC_BASE_URL,
    ttlSeconds: config.EMAIL_VERIFICATION_TTL,
  });
  return {
    emailVerification,
    registration: createRegistration({ ...deps, oneTimeTokens, emailVerification, connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS }),
    credentials: createCredentials({ ...deps, oneTimeTokens, appBaseUrl: config.APP_BASE_URL, resetTtlSeconds: config.PASSWORD_RESET_TTL }),
    profile: createProfile(deps),
    administration: createAdministration(deps),
    lookups: createUserLookups(db),
  };
}

export type Accounts = ReturnType<typeof createAccounts>;
