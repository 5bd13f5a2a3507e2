export interface BackoffPolicy {
  /** Delay before the 2nd attempt (after the 1st failure); doubles on each further failure. */
  baseMs: number;
  /** Cap of the delay. */
  maxMs: number;
  /**
   * Share of the delay that is randomised, 0..1: the delay is uniformly drawn from
   * `[d × (1 − jitter), d]` where d = min(maxMs, baseMs × 2^(failures − 1)).
   */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 5 * 60_000, jitter: 0.5 };

/** The delay (ms) before the next attempt of a message that has failed `failures` times (≥ 1). */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, failures - 1);
  // 2^exponent overflows to Infinity for big exponents, which min() then caps.
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  return Math.round(ceiling * (1 - jitter * random()));
}
