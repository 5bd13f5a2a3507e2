/**
 * A real HTTP proxy (ATHS → proxy → CRMS) that injects faults set by tests, or a seeded random share of 500s before or
 * after forwarding (the bench's chaos); it keeps its port, so clients never need reconfiguring.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import { seededRandom } from './seeded-random.ts';

/** What the proxy does with the next requests. */
export type FaultMode =
  | { kind: 'pass' }
  /** Connection refused: the port is closed and open connections are cut. */
  | { kind: 'down' }
  /** Answer this status without forwarding (e.g. 500, 503, 429). */
  | { kind: 'status'; status: number }
  /** Forward after a delay (slower than the caller's timeout: the request may still reach the target later). */
  | { kind: 'delay'; ms: number }
  /** Forward with another `x-api-key` (a key the target does not accept). */
  | { kind: 'rewrite-key'; key: string };

/** Where a random 500 is injected: before forwarding (the target never saw it), after (it did the work), or either. */
export type FaultPlacement = 'before' | 'after' | 'mixed';

export interface FaultProxyOptions {
  /** Where requests go, e.g. http://127.0.0.1:5002; may be set later with setTarget. */
  target?: string;
  /** Share of requests (0..1) answered with a 500 in `pass` mode; settable later through `failureRate`. */
  failureRate?: number;
  placement?: FaultPlacement;
  /** Seeds the random faults, so that a run can be repeated. */
  seed?: number;
}

export interface FaultProxyStats {
  requests: number;
  forwarded: number;
  /** Answered by the proxy without forwarding: random 500s placed before, and `status` mode. */
  faultsBefore: number;
  /** Random 500s sent after the target answered. */
  faultsAfter: number;
  /** Target unreachable or no target: the caller's connection is dropped, as a real outage would. */
  upstreamErrors: number;
}

// Connection-level headers are the proxy's own business on each side (undici refuses some of them outright).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host']);

function endToEnd(headers: IncomingMessage['headers'] | Dispatcher.ResponseData['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

function answer(response: ServerResponse, status: number, headers: Record<string, string | string[]>, body: Buffer | string): void {
  if (response.destroyed) return;
  response.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  response.end(body);
}

function faultBody(status: number): string {
  return JSON.stringify({ success: false, message: `Injected ${status}`, errors: [{ field: 'server', message: 'fault proxy' }] });
}

export class FaultProxy {
  readonly stats: FaultProxyStats = { requests: 0, forwarded: 0, faultsBefore: 0, faultsAfter: 0, upstreamErrors: 0 };
  failureRate: number;
  placement: FaultPlacement;
  private mode: FaultMode = { kind: 'pass' };
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly random: () => number;
  private readonly upstream = new Agent({ connections: 64, keepAliveTimeout: 10_000 });

  private constructor(
    private target: string | undefined,
    options: FaultProxyOptions,
    private port = 0,
  ) {
    this.failureRate = options.failureRate ?? 0;
    this.placement = options.placement ?? 'mixed';
    this.random = seededRandom(options.seed ?? 42);
  }

  static async start(options: FaultProxyOptions = {}): Promise<FaultProxy> {
    const proxy = new FaultProxy(options.target, options);
    await proxy.open();
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  setTarget(target: string): void {
    this.target = target;
  }

  async set(mode: FaultMode): Promise<void> {
    this.mode = mode;
    if (mode.kind === 'down') return this.shut();
    // A mode change must not reuse connections negotiated under the previous one.
    for (const socket of this.sockets) socket.destroy();
    await this.open();
  }

  async close(): Promise<void> {
    await this.shut();
    await this.upstream.close();
  }

  private async open(): Promise<void> {
    if (this.server) return;
    const server = createServer((request, response) => void this.handle(request, response));
    server.keepAliveTimeout = 30_000;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  private async shut(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private randomFault(): 'before' | 'after' | undefined {
    if (this.failureRate <= 0 || this.random() >= this.failureRate) return undefined;
    if (this.placement === 'mixed') return this.random() < 0.5 ? 'before' : 'after';
    return this.placement;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.stats.requests += 1;
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const mode = this.mode;
    const fault = mode.kind === 'pass' ? this.randomFault() : undefined;
    if (mode.kind === 'status' || fault === 'before') {
      const status = mode.kind === 'status' ? mode.status : 500;
      this.stats.faultsBefore += 1;
      return answer(response, status, { 'content-type': 'application/json; charset=utf-8' }, faultBody(status));
    }
    if (mode.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, mode.ms));
    const headers = endToEnd(request.headers);
    if (mode.kind === 'rewrite-key') headers['x-api-key'] = mode.key;
    try {
      if (!this.target) throw new Error('no target');
      this.stats.forwarded += 1;
      const upstream = await this.upstream.request({
        origin: this.target,
        method: request.method ?? 'GET',
        path: request.url ?? '/',
        headers,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      const body = Buffer.from(await upstream.body.arrayBuffer());
      if (fault === 'after') {
        this.stats.faultsAfter += 1;
        return answer(response, 500, { 'content-type': 'application/json; charset=utf-8' }, faultBody(500));
      }
      answer(response, upstream.statusCode, endToEnd(upstream.headers), body);
    } catch {
      this.stats.upstreamErrors += 1;
      response.destroy();
    }
  }
}
