import { z } from 'zod';
import {
  baseEnvSchema,
  ConfigError,
  corsOrigins,
  csvList,
  envBoolean,
  envInteger,
  MIN_SECRET_LENGTH,
  outboxEnvShape,
  personNameSchema,
  requireSecrets,
} from '@shop/service-kit';
import { passwordProblem } from './users/password-rule.ts';

/**
 * A duration: plain seconds (`1800`) or a number with a unit (`30s`, `30m`, `12h`, `7d`). Parsed to seconds.
 */
function durationSeconds(fallback: string) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      const text = (value ?? fallback).trim();
      const match = /^(\d+)\s*(s|m|h|d)?$/.exec(text);
      if (!match) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (e.g. 900, 15m, 12h, 7d)` });
        return z.NEVER;
      }
      const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[(match[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
      const seconds = Number(match[1]) * unit;
      if (seconds < 1) {
        ctx.addIssue({ code: 'custom', message: 'must be at least 1 second' });
        return z.NEVER;
      }
      return seconds;
    });
}

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value && value.trim().length > 0 ? value.trim() : undefined));

const athsEnvSchema = baseEnvSchema.extend({
  PORT: envInteger(5001, 0),
  SERVICE_API_KEYS: csvList,
  CRMS_BASE_URL: optionalText.pipe(z.url().optional()),
  CRMS_SERVICE_API_KEY: optionalText,
  ADMIN_EMAIL: optionalText.pipe(z.email().optional()),
  ADMIN_PASSWORD: optionalText,
  ADMIN_FULL_NAME: optionalText.pipe(personNameSchema.optional()),
  SMTP_URL: optionalText,
  MAIL_FROM: z.string().min(3).default('ATHS <no-reply@localhost>'),
  APP_BASE_URL: z.url().default('http://localhost:3000'),
  /** ATHS's externally reachable base URL, only for the verification link in mail (default http://localhost:<PORT>). */
  PUBLIC_BASE_URL: optionalText.pipe(z.url({ protocol: /^https?$/ }).optional()),
  /** Where GET /api/auth/verify-email sends the browser (default <APP_BASE_URL>/login), with ?emailVerified=1|0&reason=…. */
  EMAIL_VERIFIED_REDIRECT_URL: optionalText.pipe(z.url({ protocol: /^https?$/ }).optional()),
  /** /health/detailed: provisioning fails when the oldest pending message is older than this (default 60 s). */
  HEALTH_MAX_PENDING_AGE: durationSeconds('60s'),
  /** /health/detailed: how long a successful SMTP check is reused (default 60 s; a failed one is repeated after ≤ 10 s). */
  HEALTH_MAIL_CHECK_INTERVAL: durationSeconds('60s'),
  /** Access token lifetime (default 30 minutes). */
  ACCESS_TOKEN_TTL: durationSeconds('30m'),
  /** Idle lifetime of a refresh token (default 7 days): each refresh starts a new one, capped at the session's absolute expiry. */
  REFRESH_TOKEN_TTL: durationSeconds('7d'),
  /** Absolute lifetime of a session (a refresh-token family, from login or registration); refreshes never extend it. */
  REFRESH_TOKEN_ABSOLUTE_TTL: durationSeconds('30d'),
  /** `on`: each refresh returns a new refresh token, reuse revokes the family. `off`: the same token comes back (docs/aths.md). */
  REFRESH_TOKEN_ROTATION: z.enum(['on', 'off']).default('on'),
  PASSWORD_RESET_TTL: durationSeconds('1h'),
  EMAIL_VERIFICATION_TTL: durationSeconds('24h'),
  RATE_LIMIT_ENABLED: envBoolean(true),
  /** Window shared by every limit below. */
  RATE_LIMIT_WINDOW: durationSeconds('15m'),
  RATE_LIMIT_LOGIN_PER_IP: envInteger(50, 1),
  RATE_LIMIT_LOGIN_PER_EMAIL: envInteger(10, 1),
  RATE_LIMIT_REGISTER_PER_IP: envInteger(20, 1),
  RATE_LIMIT_PASSWORD_PER_IP: envInteger(20, 1),
  RATE_LIMIT_PASSWORD_PER_EMAIL: envInteger(5, 1),
  /** Checks of the current password (change-password and delete-account share them), per user and per client IP. */
  RATE_LIMIT_CURRENT_PASSWORD_PER_USER: envInteger(10, 1),
  RATE_LIMIT_CURRENT_PASSWORD_PER_IP: envInteger(20, 1),
  /** In-process store only: counters kept per limit; when full, new clients are refused (429) until one expires. */
  RATE_LIMIT_MEMORY_MAX_KEYS: envInteger(20_000, 1),
  /** Redis (`redis://…`) shared by several instances for rate-limit counters; in-process counters without it. */
  REDIS_URL: optionalText,
  RATE_LIMIT_REDIS_PREFIX: z.string().default('aths-rate-limit:'),
  TRUST_PROXY: envBoolean(false),
  /** Customer provisioning to CRMS (PROVISIONING_ENABLED, _CONCURRENCY, _BACKOFF_*, …): see docs/provisioning.md. */
  ...outboxEnvShape('PROVISIONING'),
});

export type AthsEnv = z.output<typeof athsEnvSchema>;

export interface AthsConfig extends Omit<AthsEnv, 'SERVICE_API_KEYS' | 'CORS_ORIGINS' | 'PUBLIC_BASE_URL' | 'EMAIL_VERIFIED_REDIRECT_URL'> {
  /** PUBLIC_BASE_URL with its default applied. */
  PUBLIC_BASE_URL: string;
  /** EMAIL_VERIFIED_REDIRECT_URL with its default applied. */
  EMAIL_VERIFIED_REDIRECT_URL: string;
  /** Keys accepted on the internal API (generated in development when unset). */
  SERVICE_API_KEYS: string[];
  /** Exact browser origins allowed by CORS. */
  CORS_ORIGINS: string[];
  /** Things worth telling the operator once the logger exists (e.g. a generated dev secret). */
  warnings: string[];
}

/**
 * The environment → ATHS configuration. Throws a ConfigError naming every problem; in production a missing or
 * weak secret stops the service.
 */
export function loadAthsConfig(env: NodeJS.ProcessEnv = process.env): AthsConfig {
  const result = athsEnvSchema.safeParse(env);
  const problems: string[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(`${issue.path.join('.') || '(environment)'}: ${issue.message}`);
    throw new ConfigError(`Invalid ATHS configuration:\n${problems.map((line) => `  ${line}`).join('\n')}`);
  }
  const parsed = result.data;
  const warnings: string[] = [];
  let serviceApiKeys: string[] = [];
  try {
    serviceApiKeys = requireSecrets('SERVICE_API_KEYS', parsed.SERVICE_API_KEYS, parsed.NODE_ENV, (message) => warnings.push(message));
  } catch (error) {
    problems.push((error as Error).message);
  }
  let origins: string[] = [];
  try {
    origins = corsOrigins(parsed.CORS_ORIGINS, parsed.NODE_ENV);
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (parsed.ADMIN_PASSWORD !== undefined) {
    const problem = passwordProblem(parsed.ADMIN_PASSWORD);
    if (problem) problems.push(`ADMIN_PASSWORD: ${problem}`);
    if (!parsed.ADMIN_EMAIL) problems.push('ADMIN_EMAIL must be set together with ADMIN_PASSWORD');
  }
  if (parsed.ADMIN_EMAIL && parsed.ADMIN_PASSWORD === undefined) {
    problems.push('ADMIN_PASSWORD must be set together with ADMIN_EMAIL');
  }
  if (parsed.NODE_ENV === 'production') {
    if (!parsed.CRMS_BASE_URL) problems.push('CRMS_BASE_URL must be set in production');
    if (!parsed.CRMS_SERVICE_API_KEY) problems.push('CRMS_SERVICE_API_KEY must be set in production');
    else if (parsed.CRMS_SERVICE_API_KEY.length < MIN_SECRET_LENGTH) {
      problems.push(`CRMS_SERVICE_API_KEY must be at least ${MIN_SECRET_LENGTH} characters in production`);
    }
    if (!parsed.SMTP_URL) warnings.push('SMTP_URL is not set: verification and password-reset e-mails cannot be delivered (links are not logged in production)');
    if (!parsed.PUBLIC_BASE_URL) warnings.push(`PUBLIC_BASE_URL is not set: verification links point at http://localhost:${parsed.PORT}`);
  }
  if (parsed.ACCESS_TOKEN_TTL > 24 * 3600) problems.push('ACCESS_TOKEN_TTL must be at most 24h (access tokens are meant to be short-lived)');
  if (parsed.REFRESH_TOKEN_ABSOLUTE_TTL < parsed.REFRESH_TOKEN_TTL) {
    problems.push('REFRESH_TOKEN_ABSOLUTE_TTL must be at least REFRESH_TOKEN_TTL (a session cannot end before its first refresh token)');
  }
  if (problems.length > 0) {
    throw new ConfigError(`Invalid ATHS configuration:\n${problems.map((line) => `  ${line}`).join('\n')}`);
  }
  // 127.0.0.1 in development (nothing else on the network reaches a dev instance); all interfaces in production.
  const host = env.HOST === undefined && parsed.NODE_ENV === 'production' ? '0.0.0.0' : parsed.HOST;
  const publicUrls = {
    PUBLIC_BASE_URL: parsed.PUBLIC_BASE_URL ?? `http://localhost:${parsed.PORT}`,
    EMAIL_VERIFIED_REDIRECT_URL: parsed.EMAIL_VERIFIED_REDIRECT_URL ?? new URL('login', parsed.APP_BASE_URL.replace(/\/?$/, '/')).toString(),
  };
  return { ...parsed, ...publicUrls, HOST: host, SERVICE_API_KEYS: serviceApiKeys, CORS_ORIGINS: origins, warnings };
}
