import type { App } from './app.ts';
import { z } from 'zod';
import { errorBodySchema } from './envelope.ts';

/** A dependency the service needs to serve traffic; throws when it does not answer. */
export type ReadinessCheck = () => Promise<void>;

const CHECK_TIMEOUT_MS = 2_000;

/** Runs a check, rejecting with `no answer within N ms` if it has not settled by then (the check itself is not cancelled). */
export function withTimeout<T>(check: () => Promise<T>, timeoutMs = CHECK_TIMEOUT_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    check().then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

export function registerHealthRoutes(
  app: App,
  info: { service: string; version: string; checks: Record<string, ReadinessCheck> },
): void {
  app.get(
    '/health',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness',
        response: {
          200: z.object({
            success: z.literal(true),
            message: z.string(),
            service: z.string(),
            version: z.string(),
            uptime: z.number(),
            timestamp: z.string(),
          }),
        },
      },
    },
    async () => ({
      success: true as const,
      message: `${info.service} is running`,
      service: info.service,
      version: info.version,
      uptime: Math.round(process.uptime()),
      timestamp: new Date().toISOString(),
    }),
  );

  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: the database and required dependencies answer',
        response: {
          200: z.object({ success: z.literal(true), message: z.string(), data: z.record(z.string(), z.string()) }),
          503: errorBodySchema,
        },
      },
    },
    async (_request, reply) => {
      const names = Object.keys(info.checks);
      const results = await Promise.allSettled(names.map((name) => withTimeout(info.checks[name]!)));
      const failed = results.flatMap((result, index) =>
        result.status === 'rejected' ? [{ field: names[index]!, message: (result.reason as Error).message }] : [],
      );
      if (failed.length > 0) {
        return reply.code(503).send({ success: false as const, message: 'Service not ready', errors: failed });
      }
      return { success: true as const, message: 'Ready', data: Object.fromEntries(names.map((name) => [name, 'ok'])) };
    },
  );
}
