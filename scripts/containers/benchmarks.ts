/**
 * The container figures of `npm run test:containers -- --write-benchmarks` as a preserved section of
 * docs/benchmarks.md: `npm run bench` regenerates the rest of that file and carries this section over.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { gitRevision, replacePreservedSection, table } from '../../bench/lib/report.ts';

export interface ContainerFigures {
  engine: string;
  /** Size of the runtime base image (node:20-bookworm-slim as this engine has it). */
  baseImageBytes: number;
  services: Array<{ service: string; imageBytes: number; stopS: number; coldStartS: number }>;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

export function renderContainerFigures(figures: ContainerFigures, measuredAt = new Date()): string {
  const rows = figures.services.map((row) => [
    `shop/${row.service}`,
    `${mb(row.imageBytes)} (${mb(row.imageBytes - figures.baseImageBytes)} over the base image)`,
    `${row.coldStartS.toFixed(2)} s`,
    `${row.stopS.toFixed(1)} s`,
  ]);
  return [
    '## Container images and cold start',
    '',
    `Measured by \`npm run test:containers -- --write-benchmarks\` on ${measuredAt.toISOString().replace(/\.\d+Z$/, 'Z')}, ` +
      `revision ${gitRevision()}, with ${figures.engine} on ${cpus().length} cores; \`npm run bench\` keeps this section as it is.`,
    '',
    table(['Image', 'Size (uncompressed)', 'Cold start: container start → /health/ready 200', 'Stop: SIGTERM → exit 0'], rows),
    '',
    `- Size as the engine reports it, the base image included: \`node:20-bookworm-slim\` as this engine has it, ${mb(figures.baseImageBytes)} ` +
      '(on the CI machine a local stand-in: Debian bookworm and the official Node binary). Both images share every layer ' +
      'up to the production `node_modules` (~87 MB); each adds only its own bundle, source maps and migrations (about 1 MB).',
    '- Cold start: the stopped container started again on an already-initialised database (migrations already ' +
      'applied, signing key present), timed from the start command to the first 200 of `/health/ready` on the published port, polled every 50 ms.',
    '- Stop: `stop` with a 15 s timeout; the service closes its connections and exits 0 on SIGTERM well inside it.',
  ].join('\n');
}

export function writeContainerFigures(file: string, figures: ContainerFigures): void {
  const markdown = renderContainerFigures(figures);
  writeFileSync(file, replacePreservedSection(readFileSync(file, 'utf8'), 'containers', markdown));
}
