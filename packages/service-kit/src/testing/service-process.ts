import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The repository root (three levels above packages/service-kit/src/testing). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** A port that was free a moment ago (for child processes, which cannot report port 0 back easily). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface ServiceProcessOptions {
  /** Path of the entry point relative to `cwd`, e.g. `services/crms/src/main.ts`. */
  entry: string;
  /** Working directory of the child (default: this repository's root). */
  cwd?: string;
  /** Node options before the entry (default `--import tsx`, to run TypeScript; e.g. `--enable-source-maps` for a build). */
  nodeArgs?: string[];
  env: Record<string, string | undefined>;
  port?: number;
  /** How long to wait for the service to answer (see `waitFor`). */
  startTimeoutMs?: number;
  /**
   * What start() waits for: `ready` (default), GET /health/ready 200, i.e. serving on its database; or `live`,
   * GET /health 200, which a service answers from the moment it listens, also while its database is unreachable.
   */
  waitFor?: 'ready' | 'live';
  /** Keep the child's output (JSON logs) for assertions; printed on failure to start. */
  captureOutput?: boolean;
}

/**
 * A service running as a real child process (real port, real signals), for tests and benchmarks that need
 * to stop, kill or restart it.
 */
export class ServiceProcess {
  readonly port: number;
  readonly url: string;
  private child: ChildProcess | undefined;
  private output: string[] = [];

  private constructor(
    private readonly options: ServiceProcessOptions,
    port: number,
  ) {
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(options: ServiceProcessOptions): Promise<ServiceProcess> {
    const service = new ServiceProcess(options, options.port ?? (await freePort()));
    await service.start();
    return service;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private get healthPath(): string {
    return this.options.waitFor === 'live' ? '/health' : '/health/ready';
  }

  /** The exit code once the process has exited by itself or on a signal it handled (null while running or if killed). */
  get exitCode(): number | null {
    return this.child?.exitCode ?? null;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  logs(): string {
    return this.output.join('');
  }

  async start(): Promise<void> {
    if (this.running) return;
    // `node --import tsx` keeps the service in this one process, so signals (SIGTERM, SIGKILL) reach it directly.
    const child = spawn(process.execPath, [...(this.options.nodeArgs ?? ['--import', 'tsx']), this.options.entry], {
      cwd: this.options.cwd ?? REPO_ROOT,
      env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', ...this.options.env, PORT: String(this.port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (chunk: Buffer) => {
      if (this.options.captureOutput !== false) this.output.push(chunk.toString());
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 30_000);
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.options.entry} exited during start:\n${this.logs()}`);
      try {
        const response = await fetch(`${this.url}${this.healthPath}`);
        await response.body?.cancel();
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await this.kill();
    throw new Error(`${this.options.entry} did not answer ${this.healthPath} in time:\n${this.logs()}`);
  }

  /** Graceful stop (SIGTERM), waiting for the process to exit. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** Hard kill (SIGKILL): no shutdown hooks run, as in a crash. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    // 'close', not 'exit': the child's last output is read by then.
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}
