import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

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

/**
 * A real HTTP proxy in front of a service, injecting faults: down (refused), status answers, delays, wrong key.
 * It listens on a fixed port for its whole life, so a client configured with its URL never needs reconfiguring.
 */
export class FaultProxy {
  private server: Server;
  private readonly sockets = new Set<Socket>();
  private mode: FaultMode = { kind: 'pass' };
  private listening = false;
  /** Requests received by path (all modes except down). */
  readonly received: Array<{ method: string; path: string; at: number }> = [];

  private constructor(
    private target: string | undefined,
    readonly port: number,
  ) {
    this.server = this.createServer();
  }

  static async start(target?: string): Promise<FaultProxy> {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const proxy = new FaultProxy(target, port);
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
    if (mode.kind === 'down') await this.shut();
    else {
      // A mode change must not reuse connections negotiated under the previous one.
      for (const socket of this.sockets) socket.destroy();
      await this.open();
    }
  }

  count(path: string): number {
    return this.received.filter((entry) => entry.path.startsWith(path)).length;
  }

  async close(): Promise<void> {
    await this.shut();
  }

  private createServer(): Server {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return server;
  }

  private async open(): Promise<void> {
    if (this.listening) return;
    this.server = this.createServer();
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.listening = true;
  }

  private async shut(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const mode = this.mode;
    this.received.push({ method: req.method ?? 'GET', path: req.url ?? '/', at: Date.now() });
    if (mode.kind === 'status') {
      res.writeHead(mode.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ success: false, message: `injected ${mode.status}`, errors: [{ field: 'server', message: 'fault proxy' }] }));
      return;
    }
    if (mode.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, mode.ms));
    if (!this.target) {
      res.writeHead(502).end();
      return;
    }
    const headers = { ...req.headers };
    if (mode.kind === 'rewrite-key') headers['x-api-key'] = mode.key;
    const target = new URL(req.url ?? '/', this.target);
    const upstream = httpRequest(target, { method: req.method, headers }, (answer) => {
      if (res.destroyed) {
        answer.resume();
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent && !res.destroyed) res.writeHead(502).end();
      else res.destroy();
    });
    upstream.end(body);
  }
}
