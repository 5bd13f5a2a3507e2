/**
 * A fault-injecting HTTP proxy to put between ATHS and CRMS: it forwards every request, except a random share
 * that it answers with a 500 in the contract's envelope. A fault is injected either before forwarding (CRMS never
 * saw the request) or after (CRMS did the work, the caller only sees a 500: the case that tests idempotency).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

export type FaultPlacement = 'before' | 'after' | 'mixed';

export interface FaultProxyOptions {
  /** Where requests go, e.g. http://127.0.0.1:5002. */
  target: string;
  /** Share of requests answered with a 500 (0..1). */
  failureRate?: number;
  placement?: FaultPlacement;
  /** Only requests whose path starts with one of these can fail (default: every path). */
  failPaths?: string[];
  /** Seeded randomness, so that a run can be repeated. */
  seed?: number;
  port?: number;
}

export interface FaultProxyStats {
  requests: number;
  forwarded: number;
  faultsBefore: number;
  faultsAfter: number;
  upstreamErrors: number;
}

/** mulberry32: small, fast, seedable. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FAULT_BODY = JSON.stringify({
  success: false,
  message: 'Internal server error',
  errors: [{ field: 'server', message: 'Injected fault (bench fault proxy)' }],
});

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host']);

export class FaultProxy {
  readonly stats: FaultProxyStats = { requests: 0, forwarded: 0, faultsBefore: 0, faultsAfter: 0, upstreamErrors: 0 };
  failureRate: number;
  placement: FaultPlacement;
  private readonly random: () => number;
  private readonly upstream: Pool;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    options: FaultProxyOptions,
  ) {
    this.failureRate = options.failureRate ?? 0;
    this.placement = options.placement ?? 'mixed';
    this.random = seededRandom(options.seed ?? 42);
    this.upstream = new Pool(options.target, { connections: 64, keepAliveTimeout: 10_000 });
    this.failPaths = options.failPaths;
  }

  private readonly failPaths: string[] | undefined;

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const server = createServer((request, response) => {
      void proxy!.handle(request, response);
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    proxy = new FaultProxy(server, `http://127.0.0.1:${port}`, options);
    return proxy;
  }

  private shouldFail(path: string): 'before' | 'after' | undefined {
    if (this.failureRate <= 0) return undefined;
    if (this.failPaths && !this.failPaths.some((prefix) => path.startsWith(prefix))) return undefined;
    if (this.random() >= this.failureRate) return undefined;
    if (this.placement === 'mixed') return this.random() < 0.5 ? 'before' : 'after';
    return this.placement;
  }

  private fault(response: ServerResponse) {
    response.writeHead(500, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(FAULT_BODY) });
    response.end(FAULT_BODY);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.stats.requests += 1;
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const path = request.url ?? '/';
    const fault = this.shouldFail(path);
    if (fault === 'before') {
      this.stats.faultsBefore += 1;
      this.fault(response);
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    try {
      this.stats.forwarded += 1;
      const upstream = await this.upstream.request({
        method: (request.method ?? 'GET') as 'GET',
        path,
        headers,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      const body = Buffer.from(await upstream.body.arrayBuffer());
      if (fault === 'after') {
        this.stats.faultsAfter += 1;
        this.fault(response);
        return;
      }
      const outHeaders: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(upstream.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) outHeaders[name] = value;
      }
      outHeaders['content-length'] = String(body.length);
      response.writeHead(upstream.statusCode, outHeaders);
      response.end(body);
    } catch {
      // CRMS is down: look like it to the caller (connection dropped), as a real outage would.
      this.stats.upstreamErrors += 1;
      response.destroy();
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.upstream.close();
  }
}
