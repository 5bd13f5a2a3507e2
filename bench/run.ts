/**
 * `npm run bench [-- --quick] [--only=create,auth,lag,outage,chaos,fuzz,memory,tracing] [--drivers=postgres,pglite] [--out=FILE]`:
 * only a full run on every database writes docs/benchmarks.md, so a partial one never replaces the record (README).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '@shop/service-kit/testing';
import { ensureTestDatabaseUrl, postgresAvailable, startCluster, type Cluster, type Driver } from '../tests/support/cluster.ts';
import { gitRevision, machineInfo, preservedSections, renderReport, type Section } from './lib/report.ts';
import { authScenario } from './scenarios/auth.ts';
import { chaosScenario } from './scenarios/chaos.ts';
import { QUICK_ATHS_ENV, type Scenario, type ScenarioContext } from './scenarios/context.ts';
import { crmsCreateScenario } from './scenarios/crms-create.ts';
import { fuzzScenario } from './scenarios/fuzz.ts';
import { memoryScenario } from './scenarios/memory.ts';
import { outageScenario } from './scenarios/outage.ts';
import { syncLagScenario } from './scenarios/sync-lag.ts';
import { tracingScenario } from './scenarios/tracing.ts';

const SCENARIOS: { name: string; title: string; run: Scenario }[] = [
  { name: 'create', title: 'CRMS internal create vs the floor', run: crmsCreateScenario },
  { name: 'auth', title: 'Registration and login vs the Argon2id bound', run: authScenario },
  { name: 'lag', title: 'Sync lag', run: syncLagScenario },
  { name: 'outage', title: 'CRMS outage', run: outageScenario },
  { name: 'chaos', title: 'Chaos', run: chaosScenario },
  { name: 'fuzz', title: 'Bad input', run: fuzzScenario },
  { name: 'memory', title: 'Memory', run: memoryScenario },
  { name: 'tracing', title: 'Tracing on vs off', run: tracingScenario },
];

function parseArgs(argv: string[]) {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const [key, value] = arg.replace(/^--/, '').split('=');
    flags.set(key!, value ?? 'true');
  }
  return {
    quick: flags.has('quick'),
    only: flags.get('only')?.split(',').filter(Boolean),
    drivers: flags.get('drivers')?.split(',').filter(Boolean) as Driver[] | undefined,
    out: flags.get('out') ?? defaultOut(flags),
  };
}

function defaultOut(flags: Map<string, string>): string {
  if (flags.has('quick')) return join(REPO_ROOT, 'bench/.tmp/benchmarks-quick.md');
  if (flags.has('only') || flags.has('drivers')) return join(REPO_ROOT, 'bench/.tmp/benchmarks-partial.md');
  return join(REPO_ROOT, 'docs/benchmarks.md');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const t0 = Date.now();
  const log = (message: string) => process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
  const databaseUrl = ensureTestDatabaseUrl();
  const postgresVersion = await postgresAvailable();
  const wanted = args.drivers ?? ['postgres', 'pglite'];
  const drivers = wanted.filter((driver) => driver !== 'postgres' || postgresVersion !== undefined);
  const notes: string[] = [];
  if (wanted.includes('postgres') && !postgresVersion) {
    notes.push(`PostgreSQL was not measured: no server answered at ${new URL(databaseUrl).host} (set TEST_DATABASE_URL).`);
  }
  notes.push(
    'Services run as real child processes (`node --import tsx`, NODE_ENV=test, LOG_LEVEL=error, rate limits off), each on its own throw-away database: ' +
      'a fresh PostgreSQL database on the local server, or a PGlite data directory in a temp folder. The bench drops them afterwards.',
    'PostgreSQL, both services and the load generator share the same cores: every throughput here is what this one machine does with all of them on it.',
  );
  let shared: Promise<Cluster> | undefined;
  const context: ScenarioContext = {
    quick: args.quick,
    drivers,
    log,
    shared: args.quick
      ? () => {
          shared ??= startCluster({
            driver: drivers[0]!,
            label: 'bench_quick',
            faults: { failureRate: 0, placement: 'mixed', seed: 7 },
            athsEnv: QUICK_ATHS_ENV,
          });
          return shared;
        }
      : undefined,
  };
  if (args.quick) {
    notes.push(
      `Quick mode: each scenario runs briefly, on ${drivers[0] === 'postgres' ? 'PostgreSQL' : 'PGlite'} only (CRMS create: on every database), and the scenarios after ` +
        'the registration bound share one cluster (ATHS, fault proxy, CRMS); its numbers are a smoke test, not a measurement to quote.',
    );
  }
  const selected = SCENARIOS.filter((scenario) => !args.only || args.only.includes(scenario.name));
  const sections: Section[] = [];
  for (const scenario of selected) {
    log(`▶ ${scenario.title}`);
    const started = Date.now();
    try {
      const section = await scenario.run(context);
      sections.push(section);
      log(section.skipped ? `  skipped: ${section.skipped}` : `  done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    } catch (error) {
      log(`  failed: ${(error as Error).stack ?? String(error)}`);
      sections.push({ title: scenario.title, blocks: [], skipped: `the scenario failed: ${(error as Error).message.split('\n')[0]}` });
    }
  }
  if (shared) await (await shared.catch(() => undefined))?.stop();
  const commands = [
    '# PostgreSQL server for the PostgreSQL runs (default below); PGlite needs nothing',
    `export TEST_DATABASE_URL=${new URL(databaseUrl).protocol}//${new URL(databaseUrl).username || 'postgres'}@${new URL(databaseUrl).host}${new URL(databaseUrl).pathname}`,
    'npm run bench            # full run, writes docs/benchmarks.md',
    'npm run bench -- --quick # every scenario, short (under 2 minutes), writes bench/.tmp/benchmarks-quick.md',
    'npm run bench -- --only=create,lag --drivers=postgres   # a subset, writes bench/.tmp/benchmarks-partial.md',
    'npx vitest run tests/system   # the fuzz and no-loss checks kept as tests',
  ];
  const report = renderReport({
    mode: args.quick ? 'quick' : 'full',
    startedAt,
    machine: machineInfo(postgresVersion),
    revision: gitRevision(),
    commands,
    sections,
    notes: [...notes, `Total wall time of this run: ${((Date.now() - t0) / 1000).toFixed(0)} s.`],
    preserved: preservedSections(await readFile(args.out, 'utf8').catch(() => '')),
  });
  await mkdir(dirname(args.out), { recursive: true });
  await writeFile(args.out, report);
  log(`wrote ${args.out}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
