/**
 * Load generators for the benchmarks: closed loop (N requests always in flight) and open loop (requests started
 * at a fixed rate whatever the answers do, so a slow server cannot slow the arrivals down), both recording every
 * latency sample so that percentiles come from the data rather than from a histogram's buckets.
 */
import { performance } from 'node:perf_hooks';
import { sleep } from '@shop/service-kit/testing';

/** What one request of a scenario reports back to the generator. */
export interface Outcome {
  /** HTTP status, or 0 when no answer came (refused, reset, timed out). */
  status: number;
  /** Whether the scenario counts this answer as a success (e.g. 200/201 only). */
  ok: boolean;
}

export interface LatencyStats {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  min: number;
}

export interface LoadResult {
  /** Requests completed (answered or failed) inside the measured window. */
  completed: number;
  succeeded: number;
  failed: number;
  /** Completed requests per second of measured window. */
  throughput: number;
  /** Successful requests per second of measured window. */
  successThroughput: number;
  durationMs: number;
  latency: LatencyStats;
  /** Count of answers by status (0 = no answer). */
  statuses: Record<string, number>;
  /** For open loop: how late, at worst, the generator started a request against its schedule (ms). */
  maxScheduleLagMs?: number;
  /** Raw samples (ms), in completion order, for callers that slice them by phase. */
  samples: Sample[];
  /** performance.now() at which the run's clock started (samples' startedAt are relative to it). */
  t0?: number;
}

export interface Sample {
  /** ms since the run started (performance.now based) when the request was due / started. */
  startedAt: number;
  latencyMs: number;
  status: number;
  ok: boolean;
}

/** Nearest-rank percentile of sorted values (q in 0..1). */
function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export function latencyStats(values: readonly number[]): LatencyStats {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    count: sorted.length,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    min: sorted.length ? sorted[0]! : Number.NaN,
  };
}

/** A load result from raw samples over a measured time (ms). */
export function summarise(samples: Sample[], durationMs: number, extra: Partial<LoadResult> = {}): LoadResult {
  const statuses: Record<string, number> = {};
  let succeeded = 0;
  for (const sample of samples) {
    statuses[sample.status] = (statuses[sample.status] ?? 0) + 1;
    if (sample.ok) succeeded += 1;
  }
  const seconds = durationMs / 1000;
  return {
    completed: samples.length,
    succeeded,
    failed: samples.length - succeeded,
    throughput: samples.length / seconds,
    successThroughput: succeeded / seconds,
    durationMs,
    latency: latencyStats(samples.map((sample) => sample.latencyMs)),
    statuses,
    samples,
    ...extra,
  };
}

export interface ClosedLoopOptions {
  concurrency: number;
  durationMs: number;
  /** Run this long first without recording (JIT, connection pools, caches); keep it ≥ one request's latency. */
  warmupMs?: number;
  /** `i` is a sequence number unique within the run (warm-up included). */
  request: (i: number) => Promise<Outcome>;
}

/** `concurrency` workers each sending the next request as soon as the previous one answered. */
export async function closedLoop(options: ClosedLoopOptions): Promise<LoadResult> {
  let sequence = 0;
  const warmupMs = options.warmupMs ?? 0;
  const t0 = performance.now();
  const measureFrom = t0 + warmupMs;
  const stopAt = measureFrom + options.durationMs;
  const samples: Sample[] = [];
  const worker = async () => {
    while (performance.now() < stopAt) {
      const i = sequence++;
      const started = performance.now();
      let outcome: Outcome;
      try {
        outcome = await options.request(i);
      } catch {
        outcome = { status: 0, ok: false };
      }
      const ended = performance.now();
      // Counted by completion inside the window: the pipeline is full from the warm-up on, so completions per
      // second are the true rate, without the edge loss of keeping only requests that start and end inside it.
      if (ended >= measureFrom && ended <= stopAt) {
        samples.push({ startedAt: started - measureFrom, latencyMs: ended - started, ...outcome });
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return summarise(samples, options.durationMs);
}

export interface OpenLoopOptions {
  /** Requests started per second. */
  rate: number;
  durationMs: number;
  request: (i: number) => Promise<Outcome>;
  /** Called once with performance.now() of the run's start, before the first request. */
  onStart?: (t0: number) => void;
  /** Called when a request completes, with its sample (for per-request bookkeeping such as the 201 time). */
  onSample?: (i: number, sample: Sample) => void;
  /** Stop waiting for stragglers this long after the last request was started. */
  drainTimeoutMs?: number;
}

/**
 * Starts request i at t0 + i/rate, whatever the earlier ones are doing, and measures each latency from its
 * scheduled start (so a stall in the generator or the server shows up in the numbers instead of hiding:
 * no coordinated omission).
 */
export async function openLoop(options: OpenLoopOptions): Promise<LoadResult> {
  const intervalMs = 1000 / options.rate;
  const total = Math.max(1, Math.round((options.durationMs / 1000) * options.rate));
  const samples: Sample[] = [];
  const inFlight = new Set<Promise<void>>();
  let maxScheduleLagMs = 0;
  const t0 = performance.now();
  options.onStart?.(t0);
  for (let i = 0; i < total; i++) {
    const due = t0 + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    maxScheduleLagMs = Math.max(maxScheduleLagMs, performance.now() - due);
    const index = i;
    const run = (async () => {
      let outcome: Outcome;
      try {
        outcome = await options.request(index);
      } catch {
        outcome = { status: 0, ok: false };
      }
      const sample: Sample = { startedAt: due - t0, latencyMs: performance.now() - due, ...outcome };
      samples.push(sample);
      options.onSample?.(index, sample);
    })();
    inFlight.add(run);
    void run.finally(() => inFlight.delete(run));
  }
  const drain = Promise.all([...inFlight]);
  await Promise.race([drain, sleep(options.drainTimeoutMs ?? 30_000)]);
  return summarise(samples, options.durationMs, { maxScheduleLagMs, t0 });
}

/** Slice of a run's samples whose start fell in [fromMs, toMs), summarised. */
export function window(result: LoadResult, fromMs: number, toMs: number): LoadResult {
  const samples = result.samples.filter((sample) => sample.startedAt >= fromMs && sample.startedAt < toMs);
  return summarise(samples, toMs - fromMs);
}

export const fmt = {
  ms: (value: number) => (Number.isFinite(value) ? (value < 10 ? value.toFixed(2) : value.toFixed(1)) : '–'),
  rate: (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–'),
  ratio: (value: number) => (Number.isFinite(value) ? value.toFixed(2) : '–'),
  pct: (value: number) => (Number.isFinite(value) ? `${(value * 100).toFixed(value < 0.01 && value > 0 ? 3 : 1)} %` : '–'),
  mb: (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(0)} MB` : '–'),
};
