/**
 * Memory: resident set size (VmRSS from /proc/<pid>/status) of each service process, idle and at its peak under
 * load, on each database; and of `npm start` (both services on the embedded database) summed over its process tree.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectId } from 'bson';
import { freePort, REPO_ROOT, sleep } from '@shop/service-kit/testing';
import { ATHS_ENTRY, CRMS_ENTRY, serviceExists, type Cluster } from '../../tests/support/cluster.ts';
import { httpTarget } from '../../tests/support/http.ts';
import { registrationBody, runTag } from '../../tests/support/registrations.ts';
import { closedLoop, fmt } from '../lib/load.ts';
import { rssOf, sampleRss } from '../lib/rss.ts';
import { table, type Section } from '../lib/report.ts';
import { acquireCluster, driverName, seconds, type Scenario } from './context.ts';

async function loadCrms(cluster: Cluster, durationMs: number) {
  let n = 0;
  return closedLoop({
    concurrency: 50,
    durationMs,
    request: async () => {
      const i = n++;
      const response = await cluster.crmsHttp.json(
        'POST',
        '/api/customers/internal/create',
        { userId: new ObjectId().toHexString(), email: `mem${i}@example.com`, fullName: 'Memory Bench', contactNumber: '+1 555 0100 200' },
        { 'x-api-key': cluster.crmsKey },
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

async function waitForHealth(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/health/ready`)).ok) return true;
    } catch {
      // not yet
    }
    await sleep(250);
  }
  return false;
}

/** `npm start` as an operator runs it: both services on the embedded database, summed over the process tree. */
async function measureNpmStart(loadMs: number, settleMs: number): Promise<unknown[][] | string> {
  if (!existsSync(join(REPO_ROOT, 'scripts/start-all.ts'))) return 'not available yet: scripts/start-all.ts (npm start) does not exist';
  const athsPort = await freePort();
  const crmsPort = await freePort();
  const aths = `http://127.0.0.1:${athsPort}`;
  const crms = `http://127.0.0.1:${crmsPort}`;
  // Its own data directory (DATA_DIR) and ports, so that it neither touches ./data nor collides with anything.
  const dataDir = await mkdtemp(join(tmpdir(), 'bench-npm-start-'));
  const child = spawn('npm', ['start'], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: 'ignore',
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      ATHS_PORT: String(athsPort),
      CRMS_PORT: String(crmsPort),
      LOG_LEVEL: 'warn',
      RATE_LIMIT_ENABLED: 'false',
    },
  });
  try {
    if (!(await waitForHealth(aths, 120_000)) || !(await waitForHealth(crms, 30_000))) return 'npm start did not bring both services up within 2 minutes';
    await sleep(settleMs);
    const measure = async () => {
      const tree = await processTree(child.pid!);
      const entries = await Promise.all(tree.map(async (p) => ({ ...p, rss: await rssOf(p.pid) })));
      return entries.filter((entry) => Number.isFinite(entry.rss));
    };
    const idle = await measure();
    let peakTotal = 0;
    let peak = idle;
    const timer = setInterval(() => {
      void measure().then((entries) => {
        const total = entries.reduce((sum, entry) => sum + entry.rss, 0);
        if (total > peakTotal) {
          peakTotal = total;
          peak = entries;
        }
      });
    }, 500);
    const load = await loadRegistrations(aths, loadMs);
    clearInterval(timer);
    const idleTotal = idle.reduce((sum, entry) => sum + entry.rss, 0);
    const label = (command: string) =>
      /services\/aths|aths\b/.test(command) ? 'ATHS' : /services\/crms|crms\b/.test(command) ? 'CRMS' : command.split(' ').slice(0, 3).join(' ').slice(0, 50);
    const rows: unknown[][] = [];
    for (const entry of idle) {
      const peakEntry = peak.find((p) => p.pid === entry.pid);
      rows.push(['`npm start`', label(entry.command), entry.pid, fmt.mb(entry.rss), fmt.mb(peakEntry?.rss ?? Number.NaN), '']);
    }
    rows.push(['`npm start`', '**whole tree**', '', `**${fmt.mb(idleTotal)}**`, `**${fmt.mb(peakTotal)}**`, `registrations ${fmt.rate(load.successThroughput)}/s for ${loadMs / 1000} s`]);
    return rows;
  } finally {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // gone
    }
    await sleep(3_000);
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
    await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

export const memoryScenario: Scenario = async (context) => {
  const loadMs = seconds(context, 15, 2.5);
  const section: Section = {
    title: 'Memory (RSS)',
    description: `Resident memory (VmRSS of \`/proc/<pid>/status\`) of each service's own Node process. Idle: ${context.quick ? 'the quick run\'s shared cluster at rest after the other scenarios' : '3 s after start'}. Under load: the peak sampled
every 250 ms while CRMS takes internal creates from 50 connections (${loadMs / 1000} s), then while ATHS takes registrations from 8 clients
(${loadMs / 1000} s, CRMS receiving the provisioning calls). \`npm start\`: every process of its tree (npm, tsx wrappers, both services on PGlite).`,
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
      const crmsLoad = await loadCrms(cluster, loadMs);
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
  const npmStart = await measureNpmStart(loadMs, context.quick ? 1_000 : 3_000).catch((error: unknown) => `failed: ${(error as Error).message}`);
  if (typeof npmStart === 'string') section.blocks.push(`\`npm start\`: ${npmStart}`);
  else rows.push(...npmStart);
  section.blocks.unshift(table(['Database', 'Process', 'pid', 'Idle RSS', 'Peak RSS under load', 'Load'], rows));
  section.durationMs = Date.now() - started;
  return section;
};
