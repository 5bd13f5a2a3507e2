import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';

interface Counter {
  count: number;
  /** Epoch ms at which this counter's window ends. */
  resetAt: number;
}

export interface BoundedMemoryStoreOptions {
  /** Counters kept per limit (each `child` store has its own). */
  maxKeys: number;
  /** Called with the refused key when a store turns full (once until it has room again). */
  onFull?: (key: string) => void;
}

/**
 * A @fastify/rate-limit store (its documented `store` option) that never drops a live counter: with `maxKeys` live,
 * a new key is over its limit until the oldest expires (fail closed, bounded memory: docs/aths.md, "Rate limits").
 */
export function boundedMemoryStore(options: BoundedMemoryStoreOptions): FastifyRateLimitStoreCtor {
  class BoundedMemoryStore implements FastifyRateLimitStore {
    /** Insertion order = window-end order (one window per limit; a renewed counter is re-inserted at the end). */
    private readonly counters = new Map<string, Counter>();
    private full = false;

    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number, max: number): void {
      const now = Date.now();
      let counter = this.counters.get(key);
      if (counter && counter.resetAt <= now) {
        this.counters.delete(key);
        counter = undefined;
      }
      if (!counter) {
        this.dropExpired(now);
        if (this.counters.size >= options.maxKeys) {
          if (!this.full) options.onFull?.(key);
          this.full = true;
          const oldest = this.counters.values().next().value as Counter;
          callback(null, { current: max + 1, ttl: oldest.resetAt - now });
          return;
        }
        this.full = false;
        counter = { count: 0, resetAt: now + timeWindow };
        this.counters.set(key, counter);
      }
      counter.count += 1;
      callback(null, { current: counter.count, ttl: counter.resetAt - now });
    }

    /** Each limit (createRateLimit call) gets its own store, so a flood on one limit never fills another's. */
    child(): FastifyRateLimitStore {
      return new BoundedMemoryStore();
    }

    private dropExpired(now: number): void {
      for (const [id, counter] of this.counters) {
        if (counter.resetAt > now) return;
        this.counters.delete(id);
      }
    }
  }
  return BoundedMemoryStore;
}
