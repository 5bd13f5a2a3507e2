import type { Redis } from 'ioredis';
import { z } from 'zod';
import { withTimeout, type DatabaseHandle, type Logger } from '@shop/service-kit';
import type { AthsConfig } from '../config.ts';
import type { CustomerProvisioning } from '../customer-provisioning/index.ts';
import type { Mailer } from '../mail/mailer.ts';

/** Per check: `ok`, `disabled` (switched off here, on purpose; counts as fine) or `failing`. Thresholds: docs/aths.md. */
const checkStatus = z.enum(['ok', 'disabled', 'failing']);
const check = z.object({ status: checkStatus, message: z.string() });

export const detailedHealthSchema = z.object({
  status: z.enum(['ok', 'failing']).describe('`failing` when any check is failing'),
  timestamp: z.string(),
  checks: z.object({
    database: check.extend({ latencyMs: z.number() }),
    provisioning: check.extend({
      delivery: z
        .enum(['enabled', 'disabled', 'not-configured'])
        .describe('`disabled`: PROVISIONING_ENABLED is off (or the module is left out); `not-configured`: CRMS_BASE_URL is unset'),
      targetFailing: z.boolean().describe("This instance's worker counts CRMS as down (3 retryable failures in a row)"),
      pending: z.number().int().optional(),
      dead: z.number().int().optional().describe('Dead-lettered messages: reported, not failing (see /api/admin/customer-sync)'),
      oldestPendingAgeSeconds: z.number().optional(),
      maxPendingAgeSeconds: z.number().describe('HEALTH_MAX_PENDING_AGE: an older pending message makes the check fail'),
    }),
    mail: check.extend({
      transport: z.enum(['smtp', 'log', 'custom']),
      checkedAt: z.string().nullable().describe('When the SMTP server was last asked (results are reused for a while)'),
    }),
    redis: check.extend({ latencyMs: z.number() }).optional().describe('Only when REDIS_URL is set'),
  }),
});

export type DetailedHealth = z.output<typeof detailedHealthSchema>;
type Checks = DetailedHealth['checks'];

export interface DetailedHealthSources {
  config: AthsConfig;
  database: DatabaseHandle;
  redis: Redis | null;
  mailer: Mailer;
  logger: Logger;
  /** The provisioning module (its worker's backlog and breaker); null when this instance runs without it. */
  provisioning: Pick<CustomerProvisioning, 'deliver' | 'worker'> | null;
}

const CHECK_TIMEOUT_MS = 2_000;
/** An SMTP check is one connection with greeting, EHLO, maybe STARTTLS and login: more than a database ping. */
const MAIL_TIMEOUT_MS = 5_000;
const MAIL_RECHECK_FAILED_MS = 10_000;

/**
 * What a failure may say on a public endpoint: an error code (ECONNREFUSED, ESOCKET, EAUTH, 57P01…) or our own
 * timeout; never a message that could hold a host, a user name or a server's free text.
 */
function publicReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code)) return code;
  const message = error instanceof Error ? error.message : '';
  return message.startsWith('no answer within') ? message : 'error';
}

type Outcome = { ok: true; at: number } | { ok: false; at: number; error: unknown };

/** Runs `run` at most once per `okForMs` after a success (`failedForMs` after a failure); callers in between get the
 * last outcome or share the one in flight. */
function reuseOutcome(run: () => Promise<unknown>, okForMs: number, failedForMs: number): () => Promise<Outcome> {
  let last: Outcome | undefined;
  let inFlight: Promise<Outcome> | undefined;
  return () => {
    if (last && Date.now() - last.at < (last.ok ? okForMs : failedForMs)) return Promise.resolve(last);
    inFlight ??= run()
      .then(
        (): Outcome => ({ ok: true, at: Date.now() }),
        (error: unknown): Outcome => ({ ok: false, at: Date.now(), error }),
      )
      .then((outcome) => {
        last = outcome;
        inFlight = undefined;
        return outcome;
      });
    return inFlight;
  };
}

async function ping(run: () => Promise<unknown>): Promise<{ status: 'ok' | 'failing'; message: string; latencyMs: number; error?: unknown }> {
  const started = performance.now();
  const latencyMs = () => Math.round((performance.now() - started) * 10) / 10;
  try {
    await withTimeout(run, CHECK_TIMEOUT_MS);
    return { status: 'ok', message: 'answers', latencyMs: latencyMs() };
  } catch (error) {
    return { status: 'failing', message: `does not answer: ${publicReason(error)}`, latencyMs: latencyMs(), error };
  }
}

/**
 * The checks behind GET /health/detailed: database, CRMS provisioning, mail transport (and Redis when configured),
 * each bounded by a timeout, run in parallel. Logs a check's change to or from `failing` (with the full error).
 */
export function detailedHealthCheck(sources: DetailedHealthSources): () => Promise<DetailedHealth> {
  const { config, database, redis, mailer, logger, provisioning } = sources;
  const maxPendingAgeSeconds = config.HEALTH_MAX_PENDING_AGE;
  const verifyMail = reuseOutcome(
    () => withTimeout(() => mailer.verifyTransport(), MAIL_TIMEOUT_MS),
    config.HEALTH_MAIL_CHECK_INTERVAL * 1000,
    Math.min(config.HEALTH_MAIL_CHECK_INTERVAL * 1000, MAIL_RECHECK_FAILED_MS),
  );
  const failingBefore = new Set<string>();
  const note = (name: string, failing: boolean, error: unknown) => {
    if (failing === failingBefore.has(name)) return;
    if (failing) failingBefore.add(name);
    else failingBefore.delete(name);
    if (failing) logger.warn({ check: name, err: error }, `health check ${name} failing`);
    else logger.info({ check: name }, `health check ${name} passing again`);
  };

  async function provisioningCheck(): Promise<Checks['provisioning'] & { error?: unknown }> {
    const delivery = provisioning?.deliver ? 'enabled' : config.CRMS_BASE_URL === undefined ? 'not-configured' : 'disabled';
    const base = { delivery, maxPendingAgeSeconds } as const;
    if (!provisioning) {
      return { ...base, status: 'disabled', targetFailing: false, message: 'customer provisioning is not part of this instance' };
    }
    const targetFailing = provisioning.worker.targetFailing;
    let backlog: { pending: number; dead: number; age: number };
    try {
      backlog = await withTimeout(() => provisioning.worker.backlog(), CHECK_TIMEOUT_MS);
    } catch (error) {
      return { ...base, status: 'failing', targetFailing, message: `the outbox cannot be read: ${publicReason(error)}`, error };
    }
    const age = Math.round(backlog.age * 1000) / 1000;
    const problems = [
      ...(targetFailing ? ['CRMS is not answering: deliveries are paused, one message probes it about once a second'] : []),
      ...(age > maxPendingAgeSeconds ? [`the oldest of ${backlog.pending} pending messages has waited ${Math.round(age)} s (limit ${maxPendingAgeSeconds} s)`] : []),
    ];
    const idle = {
      enabled: `delivering to CRMS; ${backlog.pending} pending`,
      disabled: 'PROVISIONING_ENABLED is off: intents are queued here, not delivered by this instance',
      'not-configured': 'CRMS_BASE_URL is not set: intents are queued here, not delivered by this instance',
    }[delivery];
    return {
      ...base,
      status: problems.length > 0 ? 'failing' : delivery === 'enabled' ? 'ok' : 'disabled',
      message: problems.length > 0 ? problems.join('; ') : idle,
      targetFailing,
      pending: backlog.pending,
      dead: backlog.dead,
      oldestPendingAgeSeconds: age,
    };
  }

  async function mailCheck(): Promise<Checks['mail'] & { error?: unknown }> {
    const transport = mailer.transportKind;
    if (transport === 'log') {
      // Outside production the log is the intended transport (links are written there); in production nothing
      // reaches anyone, so verification and password reset cannot work.
      return config.NODE_ENV === 'production'
        ? { status: 'failing', transport, checkedAt: null, message: 'SMTP_URL is not set: no mail can be delivered' }
        : { status: 'ok', transport, checkedAt: null, message: 'SMTP_URL is not set: mail is written to the log (development)' };
    }
    const outcome = await verifyMail();
    const checkedAt = new Date(outcome.at).toISOString();
    if (outcome.ok) return { status: 'ok', transport, checkedAt, message: 'the mail server accepts connections' };
    return { status: 'failing', transport, checkedAt, message: `the mail server cannot be reached or refuses us: ${publicReason(outcome.error)}`, error: outcome.error };
  }

  return async () => {
    const [databaseResult, provisioningResult, mailResult, redisResult] = await Promise.all([
      ping(() => database.ping()),
      provisioningCheck(),
      mailCheck(),
      redis ? ping(() => redis.ping()) : undefined,
    ]);
    const checks: Checks = { database: databaseResult, provisioning: provisioningResult, mail: mailResult, ...(redisResult ? { redis: redisResult } : {}) };
    for (const [name, result] of Object.entries(checks) as Array<[string, { status: string; error?: unknown }]>) {
      note(name, result.status === 'failing', result.error);
      delete result.error;
    }
    const failing = Object.values(checks).some((result) => result.status === 'failing');
    return { status: failing ? 'failing' : 'ok', timestamp: new Date().toISOString(), checks };
  };
}
