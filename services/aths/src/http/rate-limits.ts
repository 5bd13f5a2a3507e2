import { createHash } from 'node:crypto';
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { HttpError, type App } from '@shop/service-kit';
import type { AthsConfig } from '../config.ts';
import { boundedMemoryStore } from './bounded-memory-store.ts';

type PreHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

export interface RateLimits {
  login: PreHandler[];
  register: PreHandler[];
  forgotPassword: PreHandler[];
  resetPassword: PreHandler[];
  /** Per signed-in user (runs after the bearer guard). */
  resendVerification: PreHandler[];
  /** Checks of the current password (change-password, delete-account): per user and per IP (after the bearer guard). */
  currentPassword: PreHandler[];
}

interface Limit {
  name: string;
  max: number;
  key: (request: FastifyRequest) => string | undefined;
}

/** IPv4 per address; IPv6 per /64 (one subscriber's allocation); IPv4-mapped IPv6 (`::ffff:a.b.c.d`) as IPv4. */
const byIp = (request: FastifyRequest) => normalizeIP(request.ip ?? '', 64); // ip is undefined once the socket is gone
const byUser = (request: FastifyRequest) => request.auth?.userId;
/** Per-e-mail counters are keyed by a digest, so addresses never sit in the counter store. */
const byEmail = (request: FastifyRequest) => {
  const email = (request.body as { email?: unknown } | undefined)?.email;
  if (typeof email !== 'string' || email.length === 0) return undefined;
  return createHash('sha256').update(email.trim().toLowerCase()).digest('base64url').slice(0, 22);
};

/** Keys of bounded size in either store: a longer value (only a forged X-Forwarded-For can be) is kept as a digest. */
const counterKey = (name: string, value: string) =>
  `${name}:${value.length <= 64 ? value : `#${createHash('sha256').update(value).digest('base64url')}`}`;

/**
 * Per-IP, per-e-mail and per-user limits of the credential endpoints (docs/aths.md, "Rate limits"). A failing store
 * (Redis down) lets requests through and logs: availability over limits.
 */
export async function registerRateLimits(app: App, config: AthsConfig, redis?: Redis): Promise<RateLimits> {
  if (!config.RATE_LIMIT_ENABLED) {
    return { login: [], register: [], forgotPassword: [], resetPassword: [], resendVerification: [], currentPassword: [] };
  }
  const maxKeys = config.RATE_LIMIT_MEMORY_MAX_KEYS;
  const onFull = (key: string) =>
    app.log.warn({ limit: key.slice(0, key.indexOf(':')), maxKeys }, 'rate-limit store full: new clients get 429 until counters expire');
  await app.register(rateLimit, {
    global: false,
    timeWindow: config.RATE_LIMIT_WINDOW * 1000,
    skipOnError: true,
    ...(redis ? { redis, nameSpace: config.RATE_LIMIT_REDIS_PREFIX } : { store: boundedMemoryStore({ maxKeys, onFull }) }),
  });

  const handler = (limits: Limit[]): PreHandler[] => {
    const checks = limits.map((limit) => ({
      limit,
      check: app.createRateLimit({
        max: limit.max,
        timeWindow: config.RATE_LIMIT_WINDOW * 1000,
        keyGenerator: (request) => counterKey(limit.name, limit.key(request) ?? ''),
      }),
    }));
    return [
      async (request, reply) => {
        for (const { limit, check } of checks) {
          if (limit.key(request) === undefined) continue;
          const result = await check(request);
          if (result.isAllowed || !result.isExceeded) continue;
          const retryAfter = Math.max(1, result.ttlInSeconds);
          reply.header('retry-after', String(retryAfter));
          request.log.warn({ limit: limit.name }, 'rate limit exceeded');
          throw new HttpError(429, 'Too many requests', [
            { field: 'rate-limit', message: `Too many attempts; retry in ${retryAfter} seconds` },
          ]);
        }
      },
    ];
  };

  return {
    login: handler([
      { name: 'login-ip', max: config.RATE_LIMIT_LOGIN_PER_IP, key: byIp },
      { name: 'login-email', max: config.RATE_LIMIT_LOGIN_PER_EMAIL, key: byEmail },
    ]),
    register: handler([{ name: 'register-ip', max: config.RATE_LIMIT_REGISTER_PER_IP, key: byIp }]),
    forgotPassword: handler([
      { name: 'forgot-ip', max: config.RATE_LIMIT_PASSWORD_PER_IP, key: byIp },
      { name: 'forgot-email', max: config.RATE_LIMIT_PASSWORD_PER_EMAIL, key: byEmail },
    ]),
    resetPassword: handler([{ name: 'reset-ip', max: config.RATE_LIMIT_PASSWORD_PER_IP, key: byIp }]),
    resendVerification: handler([
      { name: 'resend-user', max: config.RATE_LIMIT_PASSWORD_PER_EMAIL, key: byUser },
    ]),
    currentPassword: handler([
      { name: 'current-password-ip', max: config.RATE_LIMIT_CURRENT_PASSWORD_PER_IP, key: byIp },
      { name: 'current-password-user', max: config.RATE_LIMIT_CURRENT_PASSWORD_PER_USER, key: byUser },
    ]),
  };
}
