/**
 * Provisioning targets in one process (load, ATHS and CRMS share one event loop): a quick check; the official figures
 * come from the child-process scenarios (scenarios/sync-lag.ts, outage.ts) in docs/benchmarks.md.
 *   npx tsx bench/provisioning.ts [--driver=postgres|pglite] [--rate=50] [--seconds=10] [--outage=1000]
 */
import { pathToFileURL } from 'node:url';
import type { DatabaseDriver } from '@shop/service-kit';
import { sleep, waitFor } from '@shop/service-kit/testing';
import { ProvisioningSystem } from '../tests/support/system.ts';

export interface ProvisioningBenchOptions {
  driver: DatabaseDriver;
  /** Registrations per second for the lag measurement (open loop). */
  rate?: number;
  seconds?: number;
  /** Registrations made while CRMS is unreachable. */
  outageRegistrations?: number;
  /** Concurrent registrations while CRMS is down (and for the matching "up" sample). */
  outageConcurrency?: number;
}

export interface ProvisioningBenchResult {
  driver: DatabaseDriver;
  lag: { rate: number; count: number; p50: number; p90: number; p99: number; max: number; registrationP50: number };
  outage: { registrations: number; upP50: number; downP50: number; ratio: number; drainSeconds: number };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};

async function pooled<T>(count: number, concurrency: number, work: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next += 1;
        results.push(await work());
      }
    }),
  );
  return results;
}

export async function runProvisioningBench(options: ProvisioningBenchOptions): Promise<ProvisioningBenchResult> {
  const rate = options.rate ?? 50;
  const seconds = options.seconds ?? 10;
  const outageCount = options.outageRegistrations ?? 1_000;
  const concurrency = options.outageConcurrency ?? 8;
  // Production schedules, except a deadline short enough for the bench.
  const system = await ProvisioningSystem.start(options.driver, {
    PROVISIONING_BACKOFF_BASE_MS: '500',
    PROVISIONING_BACKOFF_MAX_MS: '300000',
    PROVISIONING_PROBE_INTERVAL_MS: '1000',
    PROVISIONING_POLL_INTERVAL_MS: '1000',
    PROVISIONING_TIMEOUT_MS: '5000',
  });
  try {
    // Warm-up (JIT, pools, prepared plans).
    await pooled(20, 4, () => system.register());

    // 1. Sync lag: open loop at `rate`/s; lag = time from the 201 until the record is readable in CRMS.
    const lags: number[] = [];
    const registrationMs: number[] = [];
    const pending: Promise<void>[] = [];
    const interval = 1000 / rate;
    const start = performance.now();
    for (let i = 0; i < rate * seconds; i++) {
      const due = start + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      pending.push(
        (async () => {
          const { userId, ms } = await system.register();
          registrationMs.push(ms);
          const answered = performance.now();
          // Tight polling (no sleep between look-ups): the resolution is one CRMS round trip.
          while ((await system.customer(userId)) === null) {
            if (performance.now() - answered > 30_000) throw new Error(`no CRMS record for ${userId}`);
          }
          lags.push(performance.now() - answered);
        })(),
      );
    }
    await Promise.all(pending);

    // 2. Outage: the same closed-loop load with CRMS up, then down; then CRMS returns and the backlog drains.
    const up = await pooled(200, concurrency, () => system.register());
    const pendingCount = async () => ((await system.athsAdmin('GET', '/api/admin/customer-sync')).body.data as { counts: { pending: number } }).counts.pending;
    await waitFor(async () => (await pendingCount()) === 0, 30_000, 'idle');
    await system.proxy.set({ kind: 'down' });
    const down = await pooled(outageCount, concurrency, () => system.register());
    await system.proxy.set({ kind: 'pass' });
    const back = performance.now();
    await system.waitForCustomers(down.map((r) => r.userId), 120_000);
    const drainSeconds = (performance.now() - back) / 1000;
    const upP50 = percentile(up.map((r) => r.ms), 50);
    const downP50 = percentile(down.map((r) => r.ms), 50);
    return {
      driver: options.driver,
      lag: {
        rate,
        count: lags.length,
        p50: percentile(lags, 50),
        p90: percentile(lags, 90),
        p99: percentile(lags, 99),
        max: Math.max(...lags),
        registrationP50: percentile(registrationMs, 50),
      },
      outage: { registrations: outageCount, upP50, downP50, ratio: downP50 / upP50, drainSeconds },
    };
  } finally {
    await system.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const flags = new Map(process.argv.slice(2).map((arg) => arg.replace(/^--/, '').split('=') as [string, string]));
  process.env.TEST_DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
  const result = await runProvisioningBench({
    driver: (flags.get('driver') as DatabaseDriver | undefined) ?? 'postgres',
    rate: Number(flags.get('rate') ?? 50),
    seconds: Number(flags.get('seconds') ?? 10),
    outageRegistrations: Number(flags.get('outage') ?? 1_000),
  });
  const f = (n: number) => n.toFixed(1);
  console.log(`driver ${result.driver}`);
  console.log(
    `sync lag at ${result.lag.rate}/s (${result.lag.count} registrations): p50 ${f(result.lag.p50)} ms, p90 ${f(result.lag.p90)} ms, ` +
      `p99 ${f(result.lag.p99)} ms, max ${f(result.lag.max)} ms (target p50 < 10, p99 < 50); registration p50 ${f(result.lag.registrationP50)} ms`,
  );
  console.log(
    `outage: ${result.outage.registrations} registrations while CRMS was down, all in CRMS ${f(result.outage.drainSeconds)} s after it answered ` +
      `(target ≤ 15 s); registration p50 up ${f(result.outage.upP50)} ms, down ${f(result.outage.downP50)} ms, ratio ${result.outage.ratio.toFixed(2)} (target ≤ 1.10)`,
  );
  process.exit(0);
}
