import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';

/**
 * PostgreSQL's start parameters for the embedded database: PGlite's defaults with shared_buffers at 16 MB instead
 * of 128 MB, which PGlite's WebAssembly memory would otherwise hold for good (-130 MB resident once opened:
 * docs/operations.md "Embedded database memory"). Files stay in the OS page cache, so reads beyond it stay cheap.
 */
export const PGLITE_START_PARAMS: readonly string[] = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

/**
 * Creates the PostgreSQL cluster of a new data directory (initdb) in a short-lived child process, so that this
 * process only ever opens an existing one: initdb grows the WebAssembly memory to ~650 MB, which is never returned.
 * The cluster is built beside the directory and renamed into place, so an interrupted initdb leaves no half-made
 * cluster. Nothing to do if the directory already holds one.
 */
export async function initPgliteDirectory(directory: string): Promise<void> {
  if (existsSync(join(directory, 'PG_VERSION'))) return;
  if (existsSync(directory) && readdirSync(directory).length > 0) {
    throw new Error(`${directory} is neither empty nor a PGlite data directory (no PG_VERSION)`);
  }
  mkdirSync(dirname(directory), { recursive: true });
  const prefix = `.${basename(directory)}.initdb-`;
  // What an initdb interrupted by the end of its process left behind (a live one's belongs to that process).
  for (const entry of readdirSync(dirname(directory))) {
    if (entry.startsWith(prefix) && !isRunning(Number(entry.slice(prefix.length)))) rmSync(join(dirname(directory), entry), { recursive: true, force: true });
  }
  const building = join(dirname(directory), `${prefix}${process.pid}`);
  rmSync(building, { recursive: true, force: true });
  const code = `import { PGlite } from ${JSON.stringify(import.meta.resolve('@electric-sql/pglite'))};
await (await PGlite.create(process.env.PGLITE_INITDB_DIR)).close();`;
  await new Promise<void>((done, fail) => {
    let stderr = '';
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
      env: { ...process.env, PGLITE_INITDB_DIR: building },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    // This process exiting first (a signal, the other service failing) ends the initdb too.
    const killChild = () => child.kill();
    process.once('exit', killChild);
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', fail);
    child.once('exit', (code, signal) => {
      process.off('exit', killChild);
      if (code === 0) done();
      else fail(new Error(`initdb of ${directory} failed (${signal ?? `exit code ${code}`}): ${stderr.trim().slice(-2000)}`));
    });
  });
  if (existsSync(directory)) rmdirSync(directory);
  renameSync(building, directory);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Shared {
  client: Promise<PGlite>;
  users: number;
}

const byDirectory = new Map<string, Shared>();

export interface PgliteLease {
  client: PGlite;
  /** Closes the instance once every holder of this directory has released it. */
  release: () => Promise<void>;
}

/**
 * One PGlite instance per data directory in this process (PGlite cannot open a directory twice): services running
 * in one process (`npm start`) on the same directory share it, each with its own tables and migration journal.
 * `memory://` is never shared: each is a database of its own.
 */
export async function leasePglite(location: string, open: (location: string) => Promise<PGlite>): Promise<PgliteLease> {
  if (location.startsWith('memory://')) {
    const client = await open(location);
    return { client, release: () => (client.closed ? Promise.resolve() : client.close()) };
  }
  const key = resolve(location);
  let shared = byDirectory.get(key);
  if (!shared) {
    shared = { client: initPgliteDirectory(key).then(() => open(key)), users: 0 };
    byDirectory.set(key, shared);
    const failed = shared;
    shared.client.catch(() => byDirectory.get(key) === failed && byDirectory.delete(key));
  }
  shared.users++;
  const lease = shared;
  let client: PGlite;
  try {
    client = await lease.client;
  } catch (error) {
    lease.users--;
    throw error;
  }
  let released = false;
  return {
    client,
    async release() {
      if (released) return;
      released = true;
      if (--lease.users > 0) return;
      if (byDirectory.get(key) === lease) byDirectory.delete(key);
      if (!client.closed) await client.close();
    },
  };
}
