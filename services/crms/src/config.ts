import { fileURLToPath } from 'node:url';
import { baseEnvSchema, corsOrigins, envInteger, loadConfig, outboxEnvShape, requireSecrets } from '@shop/service-kit';
import { z } from 'zod';

/** Where CRMS keeps its PGlite data when DATABASE_URL is unset: `<repository root>/data/crms`. */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../../data/crms', import.meta.url));

const crmsEnvSchema = baseEnvSchema.extend({
  PORT: envInteger(5002, 0),
  ATHS_BASE_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:5001'),
  ATHS_SERVICE_API_KEY: z.string().optional(),
  /** PostgreSQL pool size (migrations and LISTEN use connections of their own, outside the pool). */
  DB_POOL_SIZE: envInteger(10, 2),
  /** How long ATHS's answer on an administrator's role and isActive is trusted (docs/crms.md "Stale administrator tokens"). */
  ADMIN_ACCOUNT_CACHE_MS: envInteger(5_000, 0),
  /** While ATHS cannot be reached, an administrator's last answer is used up to this age; then admin routes answer 503. */
  ADMIN_ACCOUNT_MAX_STALE_MS: envInteger(30_000, 0),
  /** Status propagation to ATHS (STATUS_SYNC_ENABLED, _CONCURRENCY, _BACKOFF_*, …): see docs/provisioning.md. */
  ...outboxEnvShape('STATUS_SYNC'),
});

export type CrmsEnv = z.output<typeof crmsEnvSchema>;

export interface CrmsConfig extends Omit<CrmsEnv, 'ATHS_SERVICE_API_KEY' | 'CORS_ORIGINS'> {
  /** Exact browser origins allowed by CORS. */
  CORS_ORIGINS: string[];
  /** Accepted on `x-api-key` by the internal routes (several during a key rotation). */
  SERVICE_API_KEYS: string[];
  /** Sent by CRMS to ATHS's internal API. */
  ATHS_SERVICE_API_KEY: string;
}

/**
 * Environment → typed configuration. In production a missing or weak SERVICE_API_KEYS or ATHS_SERVICE_API_KEY
 * stops the service with a clear message; in development and test a throw-away key is generated (with a warning).
 */
export function loadCrmsConfig(
  env: NodeJS.ProcessEnv = process.env,
  warn: (message: string) => void = (message) => process.stderr.write(`[crms] ${message}\n`),
): CrmsConfig {
  const parsed = loadConfig(crmsEnvSchema, env);
  const serviceKeys = requireSecrets('SERVICE_API_KEYS', parsed.SERVICE_API_KEYS, parsed.NODE_ENV, warn);
  const athsKeys = requireSecrets(
    'ATHS_SERVICE_API_KEY',
    parsed.ATHS_SERVICE_API_KEY ? [parsed.ATHS_SERVICE_API_KEY] : [],
    parsed.NODE_ENV,
    (message) => warn(message.replace(/\(set it[^)]*\)/, "(set it to a key ATHS's internal API accepts, or repair-on-read cannot reach ATHS)")),
  );
  return {
    ...parsed,
    SERVICE_API_KEYS: serviceKeys,
    ATHS_SERVICE_API_KEY: athsKeys[0]!,
    CORS_ORIGINS: corsOrigins(parsed.CORS_ORIGINS, parsed.NODE_ENV),
  };
}
