/**
 * How long a backlog of provisioning messages takes to reach CRMS: polled cheaply through ATHS's detailed health
 * check, then confirmed in CRMS itself (tests/support/consistency.ts).
 */
import { sleep } from '@shop/service-kit/testing';
import type { Cluster } from '../../tests/support/cluster.ts';
import { waitForDelivery } from '../../tests/support/consistency.ts';

interface DetailedHealthBody {
  data?: { timestamp?: string; checks?: { provisioning?: { pending?: number; oldestPendingAgeSeconds?: number } } };
}

/**
 * Waits, through ATHS's `GET /health/detailed` (its provisioning check reads the outbox backlog: one count over the
 * undelivered rows), until no provisioning message created before `cutoff` (epoch ms; default: any) is still pending.
 * Not the admin view `/api/admin/customer-sync`: that one also counts every Customer's coverage, ~40 ms of PGlite's
 * time per call at 1,800 customers, so polling it every 50 ms slowed the very drain it measured (docs/provisioning.md, "Measured").
 * Resolves with the elapsed time, or undefined on timeout or when the check is not there.
 */
async function waitForOutboxDrained(
  cluster: Cluster,
  timeoutMs: number,
  cutoff = Number.POSITIVE_INFINITY,
  pollMs = 50,
): Promise<number | undefined> {
  const started = Date.now();
  if (!cluster.athsHttp) return undefined;
  while (Date.now() - started <= timeoutMs) {
    // 503 while a check fails (an old pending message does): the body still has the backlog.
    const response = await cluster.athsHttp.json<DetailedHealthBody>('GET', '/health/detailed').catch(() => undefined);
    if (response?.status === 404) return undefined;
    const data = response?.body?.data;
    const check = data?.checks?.provisioning;
    if (check?.pending !== undefined) {
      const now = Date.parse(data?.timestamp ?? '') || Date.now();
      const oldest = check.pending > 0 && check.oldestPendingAgeSeconds !== undefined ? now - check.oldestPendingAgeSeconds * 1000 : undefined;
      const drained = cutoff === Number.POSITIVE_INFINITY ? check.pending === 0 : oldest === undefined || oldest >= cutoff;
      if (drained) return Date.now() - started;
    }
    await sleep(pollMs);
  }
  return undefined;
}

/**
 * Drain time of a set of users: first through ATHS's detailed health check (cheap polling), then confirmed in CRMS itself;
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
