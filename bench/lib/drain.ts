/**
 * How long a backlog of provisioning messages takes to reach CRMS: polled cheaply through ATHS's outbox view, then
 * confirmed in CRMS itself (tests/support/consistency.ts).
 */
import { sleep } from '@shop/service-kit/testing';
import type { Cluster } from '../../tests/support/cluster.ts';
import { waitForDelivery } from '../../tests/support/consistency.ts';

interface SyncStatusBody {
  data?: { counts?: { pending?: number; dead?: number }; oldestPendingCreatedAt?: string | null };
}

/**
 * Waits, through ATHS's own `GET /api/admin/customer-sync` (one cheap request per poll, so the measuring does not
 * load CRMS), until no provisioning message created before `cutoff` (epoch ms; default: any) is still pending.
 * Resolves with the elapsed time, or undefined on timeout or when the endpoint is not there.
 */
async function waitForOutboxDrained(
  cluster: Cluster,
  timeoutMs: number,
  cutoff = Number.POSITIVE_INFINITY,
  pollMs = 50,
): Promise<number | undefined> {
  const started = Date.now();
  const token = await cluster.adminToken().catch(() => undefined);
  if (!token || !cluster.athsHttp) return undefined;
  while (Date.now() - started <= timeoutMs) {
    const response = await cluster.athsHttp
      .json<SyncStatusBody>('GET', '/api/admin/customer-sync', undefined, { authorization: `Bearer ${token}` })
      .catch(() => undefined);
    if (response?.status === 404) return undefined;
    const data = response?.status === 200 ? response.body?.data : undefined;
    if (data?.counts) {
      const oldest = data.oldestPendingCreatedAt ? Date.parse(data.oldestPendingCreatedAt) : undefined;
      const drained = cutoff === Number.POSITIVE_INFINITY ? (data.counts.pending ?? 0) === 0 : oldest === undefined || oldest >= cutoff;
      if (drained) return Date.now() - started;
    }
    await sleep(pollMs);
  }
  return undefined;
}

/**
 * Drain time of a set of users: first through ATHS's outbox view (cheap polling), then confirmed in CRMS itself;
 * if CRMS does not have them all yet, keeps polling CRMS directly until it does or the timeout passes.
 */
export async function measureDrain(
  cluster: Cluster,
  userIds: readonly string[],
  timeoutMs: number,
  cutoff?: number,
): Promise<{ elapsedMs: number; missing: number; drained: boolean }> {
  const started = Date.now();
  const outbox = await waitForOutboxDrained(cluster, timeoutMs, cutoff);
  const confirmed = await waitForDelivery(cluster, userIds, Math.max(0, timeoutMs - (Date.now() - started)), 100);
  if (outbox !== undefined && confirmed.drained && confirmed.polls === 1) {
    // Found complete at the first look after the outbox said so: the outbox's moment is the drain time.
    return { elapsedMs: outbox, missing: 0, drained: true };
  }
  return { elapsedMs: Date.now() - started, missing: confirmed.missing, drained: confirmed.drained };
}
