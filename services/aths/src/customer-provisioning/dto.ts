import { z } from 'zod';
import { objectIdSchema } from '@shop/service-kit';

export const syncStatusSchema = z.object({
  counts: z.object({ pending: z.number().int(), delivered: z.number().int(), dead: z.number().int() }),
  oldestPendingAgeSeconds: z.number(),
  oldestPendingCreatedAt: z.string().nullable(),
  customers: z.object({ registered: z.number().int(), provisioned: z.number().int() }),
  delivery: z.object({ enabled: z.boolean(), crmsBaseUrl: z.string().nullable(), targetFailing: z.boolean() }),
  deadLetters: z.array(
    z.object({
      messageId: z.string(),
      userId: z.string(),
      operation: z.string(),
      attempts: z.number().int(),
      lastStatus: z.number().int().nullable(),
      lastError: z.string().nullable(),
      createdAt: z.string(),
      failedAt: z.string(),
    }),
  ),
});

export type SyncStatus = z.output<typeof syncStatusSchema>;

export const retryBody = z.object({ userIds: z.array(objectIdSchema).min(1).max(1000).optional() }).nullish();
export const requeuedSchema = z.object({ requeued: z.number().int() });
export const reconcileResultSchema = z.object({ queued: z.number().int(), requeued: z.number().int() });
