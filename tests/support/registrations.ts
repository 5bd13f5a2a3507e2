/** Customers registered through ATHS's public API of a cluster, in bulk (tests, warm-ups and the bench's bursts). */
import { randomBytes } from 'node:crypto';
import type { Cluster } from './cluster.ts';

/** A valid registration body: the email is unique per (tag, i), the password fixed and strong. */
export function registrationBody(tag: string, i: number) {
  return {
    email: `${tag}-${i}@cluster.example.com`,
    password: 'ClusterPassw0rd',
    fullName: `Cluster User ${i}`,
    contactNumber: `+1 555 ${String(1_000_000 + (i % 9_000_000)).slice(0, 7)}`,
  };
}

/** A tag no other run uses, for registrationBody. */
export function runTag(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
}

/**
 * Registers `count` customers at once (bodies `from`..`from + count - 1` of `tag`). Resolves with the ids of those
 * answered 201 and every status (0 = no answer), never throws for a failed registration.
 */
export async function registerMany(cluster: Cluster, tag: string, count: number, from = 0): Promise<{ ids: string[]; statuses: number[] }> {
  if (!cluster.athsHttp) throw new Error('ATHS is not running in this cluster');
  const athsHttp = cluster.athsHttp;
  const answers = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      athsHttp
        .json<{ data?: { user?: { _id?: string } } }>('POST', '/api/auth/register', registrationBody(tag, from + i))
        .catch(() => ({ status: 0, body: undefined })),
    ),
  );
  const ids = answers.flatMap((answer) => (answer.status === 201 && answer.body?.data?.user?._id ? [answer.body.data.user._id] : []));
  return { ids, statuses: answers.map((answer) => answer.status) };
}
