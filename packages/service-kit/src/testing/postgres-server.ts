import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './service-process.ts';

const run = promisify(execFile);

/** The newest PostgreSQL server binaries installed (Debian's /usr/lib/postgresql/<version>/bin), or undefined. */
export function postgresBinDir(root = '/usr/lib/postgresql'): string | undefined {
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(b) - Number(a));
  return versions.map((version) => join(root, version, 'bin')).find((bin) => existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl')));
}

/** Why a private PostgreSQL server cannot be made here, or undefined when it can. */
export function privatePostgresUnavailable(): string | undefined {
  if (!postgresBinDir()) return 'no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin';
  if (process.getuid?.() === 0 && osUser('postgres') === undefined) return 'running as root and there is no "postgres" user to run the server as';
  return undefined;
}

function osUser(name: string): { uid: number; gid: number } | undefined {
  try {
    const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim()));
    return { uid: uid!, gid: gid! };
  } catch {
    return undefined;
  }
}

/**
 * A PostgreSQL server of a test's own (initdb in a temp directory, a free port, trust authentication), which the test
 * may stop, restart or crash without touching any shared server. PostgreSQL refuses to run as root: as root, the
 * directory is given to the `postgres` user and every command runs as that user (runuser).
 */
export class PostgresServer {
  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    readonly port: number,
    private readonly runAs: string | undefined,
  ) {}

  /** Creates (initdb) and starts a server. */
  static async start(): Promise<PostgresServer> {
    const bin = postgresBinDir();
    const unavailable = privatePostgresUnavailable();
    if (!bin || unavailable) throw new Error(`cannot start a private PostgreSQL: ${unavailable}`);
    const dir = mkdtempSync(join(tmpdir(), 'pg-test-'));
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      const owner = osUser('postgres')!;
      chownSync(dir, owner.uid, owner.gid);
    }
    const server = new PostgresServer(bin, dir, await freePort(), asRoot ? 'postgres' : undefined);
    try {
      await server.exec('initdb', ['-D', server.dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
      await server.start();
    } catch (error) {
      await server.destroy();
      throw error;
    }
    return server;
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** A connection URL to one of its databases (default `postgres`). */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** The server's log so far (for a failing test's message). */
  log(): string {
    try {
      return readFileSync(join(this.dir, 'server.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** Starts it again after stop(). Waits until it accepts connections. */
  async start(): Promise<void> {
    await this.exec('pg_ctl', ['start', ...this.startArgs()]);
  }

  /**
   * How pg_ctl starts it: only TCP on 127.0.0.1, its socket in its own directory, no fsync (a test's data is
   * throw-away), and its output in a log file (else the server would hold pg_ctl's output open, and our wait with it).
   */
  private startArgs(): string[] {
    const serverOptions = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
    return ['-w', '-t', '60', '-D', this.dataDir, '-l', join(this.dir, 'server.log'), '-o', serverOptions];
  }

  /** `pg_ctl stop -m <mode>`: `fast` rolls back open transactions and disconnects every client; `immediate` is a crash. */
  async stop(mode: 'smart' | 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.exec('pg_ctl', ['stop', '-w', '-t', '60', '-D', this.dataDir, '-m', mode]);
  }

  /** `pg_ctl restart -m <mode>`: stop, then start with the same options. */
  async restart(mode: 'smart' | 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.exec('pg_ctl', ['restart', '-m', mode, ...this.startArgs()]);
  }

  /** Stops it (if running) and deletes its directory. */
  async destroy(): Promise<void> {
    if (existsSync(join(this.dataDir, 'postmaster.pid'))) await this.stop('immediate').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async exec(tool: string, args: string[]): Promise<void> {
    const path = join(this.bin, tool);
    const [command, argv] = this.runAs ? ['runuser', ['-u', this.runAs, '--', path, ...args]] : [path, args];
    try {
      await run(command, argv, { cwd: this.dir, timeout: 90_000 });
    } catch (error) {
      const { stderr, stdout } = error as { stderr?: string; stdout?: string };
      throw new Error(`${tool} ${args[0]} failed: ${stderr || stdout || (error as Error).message}\n${this.log()}`, { cause: error });
    }
  }
}
