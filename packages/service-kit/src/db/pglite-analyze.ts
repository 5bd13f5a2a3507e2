import type { PGlite } from '@electric-sql/pglite';

/**
 * PGlite runs no autovacuum, so its planner never gets statistics unless someone runs ANALYZE: without them an
 * outbox claim reads the whole backlog (docs/provisioning.md, "Measured"). This does the analyze part of autovacuum's
 * job: every `intervalMs`, each table grown by a fifth (in pages) since its last ANALYZE is analyzed again.
 */
export function analyzeWhileOpen(client: PGlite, intervalMs = 30_000): void {
  const timer = setInterval(() => {
    if (client.closed) clearInterval(timer);
    else analyzeGrownTables(client).catch(() => undefined); // closed meanwhile, or busy: the next tick tries again
  }, intervalMs);
  timer.unref();
}

/** ANALYZEs the user tables grown by a fifth (and 8 pages) since their last ANALYZE; returns their names. */
export async function analyzeGrownTables(client: PGlite): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
        AND pg_relation_size(c.oid) / current_setting('block_size')::int > greatest(c.relpages, 0) * 1.2 + 8`,
  );
  for (const { name } of rows) await client.exec(`ANALYZE ${name}`);
  return rows.map((row) => row.name);
}
