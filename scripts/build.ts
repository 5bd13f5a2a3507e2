/**
 * `npm run build`: each service bundled by esbuild into `services/<svc>/dist/` (kit inlined, npm packages left as
 * imports), runnable with plain node after `npm prune --omit=dev`. Why a bundle: docs/deploy.md.
 */
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Entry points per service (relative to `services/<svc>/src`). dist/ sits beside src/, so the entries' relative
 * URLs (`../migrations`, `../package.json`, `../../../data/<svc>`) resolve to the same places from the bundle. */
const ENTRY_POINTS: Record<string, string[]> = {
  aths: ['main.ts', 'cli.ts'],
  crms: ['main.ts'],
};

/** Bare imports stay external (node_modules at run time), except the workspace packages, which are compiled in. */
const workspacePackagesInline: Plugin = {
  name: 'workspace-packages-inline',
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@shop/') ? undefined : { path: args.path, external: true }));
  },
};

async function buildService(service: string, entries: string[]): Promise<void> {
  const dir = `${ROOT}services/${service}`;
  rmSync(`${dir}/dist`, { recursive: true, force: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: entries.map((entry) => `${dir}/src/${entry}`),
    outdir: `${dir}/dist`,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    // Function and class names survive the bundle's renaming (stack traces, error names, Fastify plugin names).
    keepNames: true,
    plugins: [workspacePackagesInline],
    logLevel: 'warning',
  });
}

for (const [service, entries] of Object.entries(ENTRY_POINTS)) {
  await buildService(service, entries);
  process.stdout.write(`built services/${service}/dist/{${entries.map((entry) => entry.replace(/\.ts$/, '.js')).join(',')}}\n`);
}
