/**
 * Lost and duplicated customers, counted in the databases themselves: duplicates are CRMS rows sharing a
 * user_id; lost are Customer users in ATHS that have no CRMS row. On PGlite the data directories are opened from
 * here, so the services must be stopped first (`stopForAudit`); on PostgreSQL they are read live.
 */
import { sleep } from '@shop/service-kit/testing';
import { queryDatabase, type Cluster } from './cluster.ts';

export interface Audit {
  athsCustomers: number;
  crmsRows: number;
  crmsDistinctUsers: number;
  /** Customer users in ATHS without a CRMS record. */
  lost: number;
  /** CRMS rows beyond the first for a user_id. */
  duplicated: number;
  /** CRMS records whose user_id is no user in ATHS (should be 0 too). */
  orphans: number;
  lostIds: string[];
}

export async function audit(cluster: Cluster): Promise<Audit> {
  if (!cluster.athsDb) throw new Error('audit needs ATHS');
  const athsRows = await queryDatabase<{ id: string }>(cluster.athsDb, `SELECT id FROM users WHERE role = 'Customer'`);
  const allUsers = new Set(
    (await queryDatabase<{ id: string }>(cluster.athsDb, 'SELECT id FROM users')).map((row) => row.id),
  );
  const crmsRows = await queryDatabase<{ user_id: string; n: number }>(
    cluster.crmsDb,
    'SELECT user_id, count(*)::int AS n FROM customers GROUP BY user_id',
  );
  const perUser = new Map(crmsRows.map((row) => [row.user_id, Number(row.n)]));
  const lostIds = athsRows.map((row) => row.id).filter((id) => !perUser.has(id));
  let duplicated = 0;
  let total = 0;
  let orphans = 0;
  for (const [userId, n] of perUser) {
    total += n;
    duplicated += n - 1;
    if (!allUsers.has(userId)) orphans += 1;
  }
  return {
    athsCustomers: athsRows.length,
    crmsRows: total,
    crmsDistinctUsers: perUser.size,
    lost: lostIds.length,
    duplicated,
    orphans,
    lostIds: lostIds.slice(0, 10),
  };
}

/** Count of CRMS records among the given user ids, read live (PostgreSQL) or through CRMS's internal API (PGlite). */
async function countDelivered(cluster: Cluster, userIds: readonly string[], concurrency = 16): Promise<Set<string>> {
  const found = new Set<string>();
  if (userIds.length === 0) return found;
  if (cluster.driver === 'postgres') {
    const rows = await queryDatabase<{ user_id: string }>(cluster.crmsDb, 'SELECT user_id FROM customers WHERE user_id = ANY($1)', [
      userIds,
    ]);
    for (const row of rows) found.add(row.user_id);
    return found;
  }
  let next = 0;
  const worker = async () => {
    while (next < userIds.length) {
      const userId = userIds[next++]!;
      const response = await cluster.crmsHttp
        .json('GET', `/api/customers/internal/user/${userId}`, undefined, { 'x-api-key': cluster.crmsKey })
        .catch(() => ({ status: 0 }));
      if (response.status === 200) found.add(userId);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return found;
}

/**
 * Polls until every given user has a CRMS record or the timeout passes; returns how long it took (ms) and how many
 * were still missing at the end.
 */
export async function waitForDelivery(
  cluster: Cluster,
  userIds: readonly string[],
  timeoutMs: number,
  pollMs = 100,
): Promise<{ elapsedMs: number; missing: number; drained: boolean; polls: number }> {
  const started = Date.now();
  let remaining = [...new Set(userIds)];
  for (let polls = 1; ; polls++) {
    const found = await countDelivered(cluster, remaining).catch(() => new Set<string>());
    remaining = remaining.filter((id) => !found.has(id));
    const elapsedMs = Date.now() - started;
    if (remaining.length === 0) return { elapsedMs, missing: 0, drained: true, polls };
    if (elapsedMs > timeoutMs) return { elapsedMs, missing: remaining.length, drained: false, polls };
    await sleep(pollMs);
  }
}

/** Every Customer user id in ATHS (live on PostgreSQL; through the admin API on PGlite). */
export async function athsCustomerIds(cluster: Cluster): Promise<string[]> {
  if (cluster.driver === 'postgres' && cluster.athsDb) {
    return (await queryDatabase<{ id: string }>(cluster.athsDb, `SELECT id FROM users WHERE role = 'Customer'`)).map((row) => row.id);
  }
  const token = await cluster.adminToken();
  const ids: string[] = [];
  for (let page = 1; page < 10_000; page++) {
    const response = await cluster.athsHttp!.json<{
      data?: { users?: { _id: string }[]; pagination?: { pages?: number } };
    }>('GET', `/api/admin/users?role=Customer&limit=100&page=${page}`, undefined, { authorization: `Bearer ${token}` });
    if (response.status !== 200) throw new Error(`GET /api/admin/users: ${response.status}`);
    for (const item of response.body.data?.users ?? []) ids.push(item._id);
    if (page >= (response.body.data?.pagination?.pages ?? 0)) break;
  }
  return ids;
}

/** Stops both services gracefully (data kept), so that PGlite directories can be opened by `audit`. */
export async function stopForAudit(cluster: Cluster): Promise<void> {
  await cluster.aths?.stop();
  await cluster.crms.stop();
}
