/**
 * The container engine behind `npm run test:containers`: Docker with `docker compose` when a Docker daemon answers,
 * else podman with podman-compose (this kind of machine: `../shared/tools/containers/prepare.sh` installs them).
 * `CONTAINER_ENGINE=docker|podman` forces one. Containers are found by the compose labels both tools set.
 */
import { spawn } from 'node:child_process';

export interface Engine {
  name: 'docker' | 'podman';
  /** The compose command, e.g. `['docker', 'compose']`. */
  compose: string[];
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion, output captured (never inherited: compose tools are verbose). Asynchronous, so that
 * a signal to this process is handled (and the project torn down) while a long build runs.
 */
export function run(command: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command[0]!, command.slice(1), { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: `${stderr}${error.message}` });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** Like run, but a non-zero exit throws with the command's output. */
export async function mustRun(command: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const result = await run(command, options);
  if (result.code !== 0) {
    throw new Error(`${command.join(' ')} exited with ${result.code}:\n${tail(result.stdout + result.stderr, 60)}`);
  }
  return result.stdout;
}

export function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

const works = async (command: string[]) => (await run(command, { timeoutMs: 20_000 })).code === 0;

export async function detectEngine(): Promise<Engine> {
  const forced = process.env.CONTAINER_ENGINE;
  if (forced !== undefined && forced !== 'docker' && forced !== 'podman') throw new Error(`CONTAINER_ENGINE must be docker or podman, not "${forced}"`);
  if (forced !== 'podman' && (await works(['docker', 'info'])) && (await works(['docker', 'compose', 'version']))) {
    return { name: 'docker', compose: ['docker', 'compose'] };
  }
  if (forced !== 'docker' && (await works(['podman', 'version'])) && (await works(['podman-compose', 'version']))) {
    return { name: 'podman', compose: ['podman-compose'] };
  }
  throw new Error(
    'No container engine: need a running Docker with `docker compose`, or podman with podman-compose ' +
      '(on a machine like CI: run ../shared/tools/containers/prepare.sh as root first).',
  );
}

/** Environment for engine commands: keep HEALTHCHECK in podman-built images (the OCI format drops it). */
export function engineEnv(engine: Engine): NodeJS.ProcessEnv {
  return engine.name === 'podman' ? { ...process.env, BUILDAH_FORMAT: 'docker' } : process.env;
}

/** The container of one compose service (the first replica), by the labels docker compose and podman-compose set. */
export async function containerOf(engine: Engine, project: string, service: string): Promise<string> {
  const labels = [`label=com.docker.compose.project=${project}`, `label=com.docker.compose.service=${service}`];
  const ids = await mustRun([engine.name, 'ps', '-a', '--filter', labels[0]!, '--filter', labels[1]!, '--format', '{{.ID}}']);
  const id = ids.trim().split('\n')[0];
  if (!id) throw new Error(`no container for service ${service} in project ${project}`);
  return id;
}

export async function inspect(engine: Engine, id: string, format: string): Promise<string> {
  return (await mustRun([engine.name, 'inspect', '--format', format, id])).trim();
}

/**
 * Runs the container's health check once. Podman here runs no checks by itself (no systemd), so it is polled;
 * Docker runs them on its own schedule and reports the status.
 */
export async function healthy(engine: Engine, id: string): Promise<boolean> {
  if (engine.name === 'podman') return (await run(['podman', 'healthcheck', 'run', id], { timeoutMs: 30_000 })).code === 0;
  return (await run(['docker', 'inspect', '--format', '{{.State.Health.Status}}', id])).stdout.trim() === 'healthy';
}

/** Bytes of an image as the engine reports it (uncompressed, base layers included). */
export async function imageSize(engine: Engine, image: string): Promise<number> {
  return Number((await mustRun([engine.name, 'image', 'inspect', '--format', '{{.Size}}', image])).trim());
}
