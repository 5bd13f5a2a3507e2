import { parseArgs } from 'node:util';
import { objectIdSchema, outboxSummary, requeueOutbox, type Database } from '@shop/service-kit';
import type { CliCommand } from '../cli-command.ts';
import { provisioningCoverage, reconcileCustomers } from './reconcile.ts';
import { customerOutbox } from './schema.ts';

/**
 * `npm run admin -- sync-status | sync-retry [--user <id> ...] | reconcile`. They act on the database; running ATHS
 * instances are woken by NOTIFY and deliver what was queued (the CLI process itself delivers nothing).
 */
export const provisioningCommands: Record<string, CliCommand<{ aths: { db: Database } }>> = {
  'sync-status': {
    description: 'Show CRMS provisioning: messages by state, oldest pending age, Customers vs confirmed records, dead letters',
    usage: '[--json]',
    async run(args, ctx) {
      const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } } });
      const app = await ctx.app();
      const [summary, customers] = await Promise.all([outboxSummary(app.aths.db, customerOutbox), provisioningCoverage(app.aths.db)]);
      if (values.json) {
        ctx.out(JSON.stringify({ ...summary, customers }, null, 2));
        return;
      }
      ctx.out(`pending ${summary.counts.pending}, delivered ${summary.counts.delivered}, dead ${summary.counts.dead}`);
      ctx.out(`oldest pending: ${summary.oldestPendingCreatedAt ? `${summary.oldestPendingAgeSeconds.toFixed(1)} s (${summary.oldestPendingCreatedAt})` : 'none'}`);
      ctx.out(`customers: ${customers.registered} registered, ${customers.provisioned} with a confirmed CRMS record`);
      for (const dead of summary.dead) {
        ctx.out(`dead: ${dead.topic} userId=${dead.key} attempts=${dead.attempts} status=${String(dead.lastStatus)} at ${dead.failedAt}: ${String(dead.lastError)}`);
      }
    },
  },
  'sync-retry': {
    description: 'Re-queue dead-lettered provisioning messages now (all, or those of the given users)',
    usage: '[--user <userId> ...]',
    async run(args, ctx) {
      const { values } = parseArgs({ args, options: { user: { type: 'string', multiple: true } } });
      const userIds = values.user?.map((id) => objectIdSchema.safeParse(id));
      const bad = userIds?.findIndex((parsed) => !parsed.success) ?? -1;
      if (bad >= 0) {
        ctx.out(`--user ${values.user![bad]}: must be a 24-character hexadecimal id`);
        return 2;
      }
      const app = await ctx.app();
      const count = await requeueOutbox(app.aths.db, customerOutbox, userIds?.map((parsed) => parsed.data!));
      ctx.out(`Re-queued ${count} message(s); running ATHS instances deliver them now.`);
    },
  },
  reconcile: {
    description: 'Queue a CRMS record creation for every Customer without a confirmed one (safe to repeat)',
    async run(_args, ctx) {
      const app = await ctx.app();
      const result = await reconcileCustomers(app.aths.db);
      ctx.out(`Queued ${result.queued} Customer(s) without a record; re-queued ${result.requeued} dead-lettered creation(s).`);
    },
  },
};
