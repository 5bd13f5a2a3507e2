import { errorBodySchema, ok, successSchema, type App } from '@shop/service-kit';
import { detailedHealthSchema, type DetailedHealth } from '../health/detailed.ts';

/** GET /health/detailed: public like /health; 503 in the error envelope (as /health/ready) with the report as `data`. */
export function registerDetailedHealthRoute(app: App, report: () => Promise<DetailedHealth>): void {
  app.get(
    '/health/detailed',
    {
      schema: {
        tags: ['operations'],
        summary: 'Health of each dependency: database, CRMS provisioning, mail (and Redis when configured)',
        description:
          '200 when no check is failing, else 503 with one `errors` entry per failing check (field = check name) and the ' +
          'same report as `data`. Provisioning fails when this instance counts CRMS as down or the oldest pending message ' +
          'is older than HEALTH_MAX_PENDING_AGE; mail fails when the SMTP server cannot be reached (checked at most once per ' +
          'HEALTH_MAIL_CHECK_INTERVAL), or in production without SMTP_URL. Every check has a timeout (2 s, mail 5 s).',
        security: [],
        response: {
          200: successSchema(detailedHealthSchema),
          503: errorBodySchema.extend({ data: detailedHealthSchema }),
        },
      },
    },
    async (_request, reply) => {
      const data = await report();
      void reply.header('cache-control', 'no-store');
      const failing = Object.entries(data.checks).filter(([, check]) => check.status === 'failing');
      if (failing.length === 0) return ok('All checks passed', data);
      return reply.code(503).send({
        success: false as const,
        message: `Failing: ${failing.map(([name]) => name).join(', ')}`,
        errors: failing.map(([name, check]) => ({ field: name, message: check.message })),
        data,
      });
    },
  );
}
