import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/** Thrown when the environment does not describe a runnable service; the message names every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A comma-separated list in one variable, e.g. several API keys accepted during a rotation. */
export const csvList = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  );

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((value) => ['true', '1', 'yes', 'on'].includes(value));

export const envBoolean = (fallback: boolean) => booleanFlag.optional().transform((value) => value ?? fallback);

export const envInteger = (fallback: number, min = 0) =>
  z.coerce.number().int().min(min).optional().transform((value) => value ?? fallback);

/** Minimum length of a secret accepted in production (128 bits of hex). */
export const MIN_SECRET_LENGTH = 32;

/** Variables every service reads. */
export const baseEnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.string().min(1).optional(),
  /** PostgreSQL: longest wait for a connection (new, or free in the pool); also each start-up attempt's. */
  DB_CONNECT_TIMEOUT_MS: envInteger(5_000, 100),
  /** PostgreSQL: statement_timeout of the service's queries (0: none); migrations are not limited. */
  DB_STATEMENT_TIMEOUT_MS: envInteger(30_000, 0),
  SERVICE_API_KEYS: csvList,
  JWT_ISSUER: z.string().min(1).default('aths'),
  JWT_AUDIENCE: z.string().min(1).default('shop'),
  /** Browser origins allowed by CORS, comma-separated; parsed by `corsOrigins()` (defaults depend on NODE_ENV). */
  CORS_ORIGINS: z.string().optional(),
  /** Bearer tokens GET /metrics requires, comma-separated (several during a rotation); unset: /metrics is open. */
  METRICS_TOKEN: csvList.refine(
    (tokens) => tokens.every((token) => token.length >= MIN_SECRET_LENGTH),
    `every token must be at least ${MIN_SECRET_LENGTH} characters`,
  ),
  /** Serve /docs (Swagger UI, OpenAPI); unset: on, except in production. Read by `operationsAccess()`. */
  EXPOSE_DOCS: booleanFlag.optional(),
});

export type BaseConfig = z.output<typeof baseEnvSchema>;

/**
 * Parses the environment with a service's schema. Fails fast with one message listing every problem,
 * so an operator fixes the whole environment in one go.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(environment)'}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

/**
 * Production refuses to start with a missing or weak secret; development generates a throw-away one so that
 * `npm start` works with no setup. Returns the secrets to use.
 */
export function requireSecrets(
  name: string,
  values: string[],
  nodeEnv: BaseConfig['NODE_ENV'],
  warn: (message: string) => void,
): string[] {
  if (nodeEnv === 'production') {
    if (values.length === 0) throw new ConfigError(`${name} must be set in production`);
    const weak = values.filter((value) => value.length < MIN_SECRET_LENGTH);
    if (weak.length > 0) {
      throw new ConfigError(`${name}: every secret must be at least ${MIN_SECRET_LENGTH} characters in production`);
    }
    return values;
  }
  if (values.length > 0) return values;
  warn(`${name} is not set: generated a random one for this process (set it to call this service's internal API)`);
  return [randomBytes(24).toString('hex')];
}
