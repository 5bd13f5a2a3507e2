/**
 * Memory: resident set size (VmRSS from /proc/<pid>/status) of each service process, idle and at its peak under
 * load, on each database; and of `npm start` (both services on the embedded database) summed over its process tree,
 * with its cold start times.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectId } from 'bson';
import { freePort, REPO_ROOT, sleep } from '@shop/service-kit/testing';
import { ATHS_ENTRY, CRMS_ENTRY, serviceExists } from '../../tests/support/cluster.ts';
import { httpTarget, type HttpTarget } from '../../tests/support/http.ts';
import { registrationBody, runTag } from '../../tests/support/registrations.ts';
import { closedLoop, fmt } from '../lib/load.ts';
import { rssOf, sampleRss } from '../lib/rss.ts';
import { table, type Section, type SummaryLine } from '../lib/report.ts';
import { acquireCluster, driverName, seconds, type Scenario } from './context.ts';

async function loadCrms(target: HttpTarget, apiKey: string, durationMs: number) {
  let n = 0;
  return closedLoop({
    concurrency: 50,
    durationMs,
    request: async () => {
      const i = n++;
      const response = await target.json(
        'POST',
        '/api/customers/internal/create',
        { userId: new ObjectId().toHexString(), email: `mem${i}@example.com`, fullName: 'Memory Bench', contactNumber: '+1 555 0100 200' },
        { 'x-api-key': apiKey },
      );
      return { status: response.status, ok: response.status === 200 };
    },
  });
}

async function loadRegistrations(baseUrl: string, durationMs: number) {
  const target = httpTarget(baseUrl, 16);
  const tag = runTag('mem');
  try {
    return await closedLoop({
      concurrency: 8,
      durationMs,
      request: async (i) => {
        const response = await target.json('POST', '/api/auth/register', registrationBody(tag, i));
        return { status: response.status, ok: response.status === 201 };
      },
    });
  } finally {
    await target.close();
  }
}

/** pid and every descendant (from /proc/<pid>/stat's ppid). */
async function processTree(root: number): Promise<{ pid: number; command: string }[]> {
  const parents = new Map<number, number>();
  const commands = new Map<number, string>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
      commands.set(Number(entry), (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replace(/\0/g, ' ').trim());
    } catch {
      // gone
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parents) if (ppid === tree[i]) tree.push(pid);
  return tree.map((pid) => ({ pid, command: commands.get(pid) ?? '' }));
}

/** Milliseconds until `url`/health/ready answers 200 (polled every 50 ms), or NaN after `timeoutMs`. */
async function readyAfter(url: string, since: number, timeoutMs: number): Promise<number> {
  while (Date.now() - since < timeoutMs) {
    try {
      if ((await fetch(`${url}/health/ready`)).ok) return Date.now() - since;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  return Number.NaN;
}

interface NpmStart {
  child: ChildProcess;
  aths: string;
  crms: string;
  /** From spawning `npm start` to both services answering /health/ready. */
  readyMs: number;
  /** CPU the tree used by then (children it waited for, as the initdb process, included): less at the mercy of the machine's load. */
  cpuMs: number;
}

/** utime + stime + cutime + cstime of every process of the tree, in ms (clock ticks of 10 ms, Linux's USER_HZ). */
async function treeCpuMs(root: number): Promise<number> {
  let ticks = 0;
  for (const { pid } of await processTree(root)) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      // gone
    }
  }
  return ticks * 10;
}

/** `npm start` as an operator runs it, on its own ports and data directory (DATA_DIR), so it touches neither ./data nor anything else. */
async function startNpm(dataDir: string): Promise<NpmStart> {
  const athsPort = await freePort();
  const crmsPort = await freePort();
  const aths = `http://127.0.0.1:${athsPort}`;
  const crms = `http://127.0.0.1:${crmsPort}`;
  const since = Date.now();
  const child = spawn('npm', ['start'], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, DATA_DIR: dataDir, ATHS_PORT: String(athsPort), CRMS_PORT: String(crmsPort), LOG_LEVEL: 'warn', RATE_LIMIT_ENABLED: 'false' },
  });
  const [athsMs, crmsMs] = await Promise.all([readyAfter(aths, since, 180_000), readyAfter(crms, since, 180_000)]);
  return { child, aths, crms, readyMs: Math.max(athsMs, crmsMs), cpuMs: await treeCpuMs(child.pid!) };
}

/** SIGTERM to the whole process group, SIGKILL after 15 s; resolves once npm has exited. */
async function stopNpm(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
  await sleep(500);
}

/** Every process of the tree with its RSS. */
async function treeRss(root: number): Promise<{ pid: number; command: string; rss: number }[]> {
  const tree = await processTree(root);
  const entries = await Promise.all(tree.map(async (p) => ({ ...p, rss: await rssOf(p.pid) })));
  return entries.filter((entry) => Number.isFinite(entry.rss));
}

const sum = (entries: { rss: number }[]) => entries.reduce((total, entry) => total + entry.rss, 0);
const MB = 1024 * 1024;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * `npm start` (both services in one process on one PGlite): cold start on a new data directory, its whole process
 * tree idle and at its peak under the scenario's load (CRMS creates, then registrations), then cold starts again on
 * the now existing directory.
 */
async function measureNpmStart(loadMs: number, settleMs: number, restarts: number): Promise<{ rows: unknown[][]; cold: string; summary: SummaryLine[] } | string> {
  if (!existsSync(join(REPO_ROOT, 'scripts/start-all.ts'))) return 'not available yet: scripts/start-all.ts (npm start) does not exist';
  const dataDir = await mkdtemp(join(tmpdir(), 'bench-npm-start-'));
  let running: NpmStart | undefined;
  try {
    running = await startNpm(dataDir);
    const fresh = running.readyMs;
    const freshCpu = running.cpuMs;
    const loadAtStart = loadavg()[0]!;
    if (!Number.isFinite(fresh)) return 'npm start did not bring both services up within 3 minutes';
    await sleep(settleMs);
    const idle = await treeRss(running.child.pid!);
    let peak = idle;
    const root = running.child.pid!;
    const timer = setInterval(() => {
      void treeRss(root).then((entries) => {
        if (sum(entries) > sum(peak)) peak = entries;
      });
    }, 250);
    const { crmsServiceApiKey } = JSON.parse(await readFile(join(dataDir, 'dev-secrets.json'), 'utf8')) as { crmsServiceApiKey: string };
    const crmsTarget = httpTarget(running.crms, 64);
    const creates = await loadCrms(crmsTarget, crmsServiceApiKey, loadMs).finally(() => crmsTarget.close());
    const registrations = await loadRegistrations(running.aths, loadMs);
    clearInterval(timer);
    await stopNpm(running.child);
    running = undefined;

    const existing: number[] = [];
    const existingCpu: number[] = [];
    for (let i = 0; i < restarts; i++) {
      running = await startNpm(dataDir);
      existing.push(running.readyMs);
      existingCpu.push(running.cpuMs);
      await stopNpm(running.child);
      running = undefined;
    }
    const label = (command: string) =>
      /^node .*start-all/.test(command) ? 'node: ATHS + CRMS + PGlite' : command.split(' ').slice(0, 3).join(' ').slice(0, 50);
    const rows: unknown[][] = [];
    for (const entry of idle) {
      const peakEntry = peak.find((p) => p.pid === entry.pid);
      rows.push(['`npm start`', label(entry.command), entry.pid, fmt.mb(entry.rss), fmt.mb(peakEntry?.rss ?? Number.NaN), '']);
    }
    const load = `internal create ${fmt.rate(creates.successThroughput)} req/s, then registrations ${fmt.rate(registrations.successThroughput)}/s, ${loadMs / 1000} s each`;
    rows.push(['`npm start`', '**whole tree**', '', `**${fmt.mb(sum(idle))}**`, `**${fmt.mb(sum(peak))}**`, load]);
    const existingMedian = median(existing);
    const cold = `\`npm start\` cold start (spawning \`npm start\` to both services answering \`/health/ready\`): ${secs(fresh)} on a new data directory (initdb included), ${secs(freshCpu)} of CPU by then; on the existing one: ${existing.map(secs).join(', ')} (median ${secs(existingMedian)}), using ${existingCpu.map(secs).join(', ')} of CPU. Load average when the first start began: ${loadAtStart.toFixed(1)} on ${cpus().length} cores (wall times stretch with it; CPU time much less).`;
    const summary: SummaryLine[] = [
      { goal: '`npm start` whole process tree idle ≤ 400 MB', measured: `${fmt.mb(sum(idle))} (${idle.length} processes)`, pass: sum(idle) <= 400 * MB },
      { goal: '`npm start` whole process tree under load ≤ 550 MB', measured: `${fmt.mb(sum(peak))} (${load})`, pass: sum(peak) <= 550 * MB },
      { goal: '`npm start` cold start ≤ 3 s on an existing ./data', measured: `median ${secs(existingMedian)} of ${existing.length} (CPU ${secs(median(existingCpu))}, load average ${loadAtStart.toFixed(1)}); new ./data ${secs(fresh)} (no goal)`, pass: existingMedian <= 3_000 },
    ];
    return { rows, cold, summary };
  } finally {
    if (running) await stopNpm(running.child);
    await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

export const memoryScenario: Scenario = async (context) => {
  const loadMs = seconds(context, 15, 2.5);
  const settleMs = context.quick ? 1_000 : 3_000;
  const section: Section = {
    title: 'Memory (RSS)',
    description: `Resident memory (VmRSS of \`/proc/<pid>/status\`) of each service's own Node process. Idle: ${context.quick ? 'the quick run\'s shared cluster at rest after the other scenarios' : '3 s after start'}. Under load: the peak sampled
every 250 ms while CRMS takes internal creates from 50 connections (${loadMs / 1000} s), then while ATHS takes registrations from 8 clients
(${loadMs / 1000} s, CRMS receiving the provisioning calls). \`npm start\` (both services in one process on one PGlite, on a new data
directory): every process of its tree summed (npm, \`sh -c\`, node; tsx's esbuild helper when it runs), idle ${settleMs / 1000} s after ready
and at its peak under the same two loads; then its cold start again ${context.quick ? 'once' : 'three times'} on the now existing directory.
Goals (issue 15): whole tree ≤ 400 MB idle, ≤ 550 MB under load; ready ≤ 3 s on an existing ./data.`,
    blocks: [],
  };
  if (!serviceExists(CRMS_ENTRY)) return { ...section, skipped: `not available yet: ${CRMS_ENTRY} does not exist` };
  const started = Date.now();
  const rows: unknown[][] = [];
  const withAths = serviceExists(ATHS_ENTRY);
  for (const driver of context.quick ? context.drivers.slice(0, 1) : context.drivers) {
    context.log(`memory on ${driverName(driver)}`);
    const acquired = await acquireCluster(context, { driver, withAths, label: 'bench_mem' });
    const cluster = acquired.cluster;
    try {
      await sleep(context.quick ? 1_000 : 3_000);
      const idleCrms = await rssOf(cluster.crms.pid);
      const idleAths = await rssOf(cluster.aths?.pid);
      const crmsSampler = sampleRss(cluster.crms.pid);
      const crmsLoad = await loadCrms(cluster.crmsHttp, cluster.crmsKey, loadMs);
      const crmsPeakCreate = crmsSampler.stop().max;
      let athsPeak = Number.NaN;
      let crmsPeakProvision = Number.NaN;
      let registrations = Number.NaN;
      if (cluster.aths) {
        const athsSampler = sampleRss(cluster.aths.pid);
        const crmsSampler2 = sampleRss(cluster.crms.pid);
        const load = await loadRegistrations(cluster.aths.url, loadMs);
        registrations = load.successThroughput;
        athsPeak = athsSampler.stop().max;
        crmsPeakProvision = crmsSampler2.stop().max;
      }
      rows.push([driverName(driver), 'CRMS', cluster.crms.pid, fmt.mb(idleCrms), fmt.mb(Math.max(crmsPeakCreate, crmsPeakProvision || 0)), `internal create ${fmt.rate(crmsLoad.successThroughput)} req/s`]);
      if (cluster.aths) {
        rows.push([driverName(driver), 'ATHS', cluster.aths.pid, fmt.mb(idleAths), fmt.mb(athsPeak), `registrations ${fmt.rate(registrations)}/s`]);
      }
    } catch (error) {
      rows.push([driverName(driver), 'failed', '', (error as Error).message.split('\n')[0], '', '']);
    } finally {
      await acquired.release();
    }
  }
  context.log('memory of npm start');
  const npmStart = await measureNpmStart(loadMs, settleMs, context.quick ? 1 : 3).catch((error: unknown) => `failed: ${(error as Error).message}`);
  if (typeof npmStart === 'string') {
    section.blocks.push(`\`npm start\`: ${npmStart}`);
    section.summary = [{ goal: '`npm start` memory and cold start', measured: npmStart, pass: false }];
  } else {
    rows.push(...npmStart.rows);
    section.blocks.push(npmStart.cold);
    section.summary = npmStart.summary;
  }
  section.blocks.unshift(table(['Database', 'Process', 'pid', 'Idle RSS', 'Peak RSS under load', 'Load'], rows));
  section.durationMs = Date.now() - started;
  return section;
};
