/** Markdown for docs/benchmarks.md: the machine, the commands, and one section per scenario. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem, type } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGb: number;
  node: string;
  os: string;
  postgres: string | undefined;
  loadAverage: string;
}

export function machineInfo(postgresVersion?: string): MachineInfo {
  const cpu = cpus();
  return {
    cpuModel: (cpu[0]?.model ?? 'unknown').trim(),
    cores: cpu.length,
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${type()} ${release()}`,
    postgres: postgresVersion,
    loadAverage: loadavg()
      .map((value) => value.toFixed(2))
      .join(' / '),
  };
}

export function gitRevision(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'services', 'packages'], { encoding: 'utf8' }).trim();
    return dirty ? `${sha} (with uncommitted changes under services/ or packages/)` : sha;
  } catch {
    return 'unknown';
  }
}

/** Pipes and line breaks would break a table cell; an object shows as JSON, not "[object Object]". */
function cell(value: unknown): string {
  const text =
    typeof value === 'string' ? value
    : typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? String(value)
    : value == null ? '' : JSON.stringify(value);
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function table(headers: string[], rows: unknown[][]): string {
  const lines = [`| ${headers.map(cell).join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`];
  for (const row of rows) lines.push(`| ${row.map(cell).join(' | ')} |`);
  return lines.join('\n');
}

/** ✅ / ❌ / – for a measured value against its goal. */
export function verdict(pass: boolean | undefined): string {
  if (pass === undefined) return '–';
  return pass ? '✅ met' : '❌ missed';
}

export interface Section {
  title: string;
  /** What the scenario does, how it is measured (markdown). */
  description?: string;
  command?: string;
  /** Markdown blocks (tables, lists) in order. */
  blocks: string[];
  /** Set when the scenario could not run: the reason, shown instead of blocks. */
  skipped?: string;
  durationMs?: number;
  /** Goals of this scenario with what this run measured, for the summary at the top. */
  summary?: SummaryLine[];
}

export interface SummaryLine {
  goal: string;
  measured: string;
  pass: boolean | undefined;
}

export interface ReportInput {
  mode: 'quick' | 'full';
  startedAt: Date;
  machine: MachineInfo;
  revision: string;
  commands: string[];
  sections: Section[];
  notes: string[];
  /** Sections measured elsewhere (e.g. by `npm run test:containers`), carried over from the previous report. */
  preserved?: string[];
}

const preservedPattern = /<!-- preserved:([\w-]+) -->[\s\S]*?<!-- \/preserved:\1 -->/g;

/** The `<!-- preserved:NAME -->` … `<!-- /preserved:NAME -->` blocks of a report, which a regenerated one keeps. */
export function preservedSections(report: string): string[] {
  return [...report.matchAll(preservedPattern)].map((match) => match[0]);
}

/** Replaces the preserved block NAME in a report (or inserts it before the first `## ` heading) with `markdown`. */
export function replacePreservedSection(report: string, name: string, markdown: string): string {
  const block = `<!-- preserved:${name} -->\n${markdown.trim()}\n<!-- /preserved:${name} -->`;
  const existing = preservedSections(report).find((section) => section.startsWith(`<!-- preserved:${name} -->`));
  if (existing) return report.replace(existing, () => block);
  const firstHeading = report.search(/^## /m);
  return firstHeading < 0 ? `${report.trimEnd()}\n\n${block}\n` : `${report.slice(0, firstHeading)}${block}\n\n${report.slice(firstHeading)}`;
}

export function renderReport(input: ReportInput): string {
  const m = input.machine;
  const out: string[] = [];
  out.push('# Benchmarks');
  out.push('');
  out.push(
    `Measured by \`npm run bench${input.mode === 'quick' ? ' -- --quick' : ''}\` (${input.mode} mode) on ` +
      `${input.startedAt.toISOString().replace(/\.\d+Z$/, 'Z')}, revision ${input.revision}. ` +
      'Every figure is measured side by side with its bound or its target in the same run, on the same machine; ' +
      'the load generator runs on that machine too, so it competes with the services for the same cores.',
  );
  out.push('');
  out.push('## Machine');
  out.push('');
  out.push(
    table(
      ['CPU', 'Cores', 'Memory', 'Node', 'OS', 'PostgreSQL', 'Load average at start (1/5/15 min)'],
      [[m.cpuModel, m.cores, `${m.memoryGb} GB`, m.node, m.os, m.postgres ?? 'not used', m.loadAverage]],
    ),
  );
  out.push('');
  const lines = input.sections.flatMap((section) =>
    section.skipped
      ? [{ goal: section.title, measured: `not measured: ${section.skipped}`, pass: undefined }]
      : (section.summary ?? []).map((line) => ({ ...line, goal: line.goal })),
  );
  if (lines.length) {
    out.push('## Summary: goals vs this run');
    out.push('');
    out.push(table(['Goal', 'Measured in this run', 'Verdict'], lines.map((line) => [line.goal, line.measured, verdict(line.pass)])));
    out.push('');
  }
  out.push('## How to rerun');
  out.push('');
  out.push('```sh');
  for (const command of input.commands) out.push(command);
  out.push('```');
  out.push('');
  if (input.notes.length) {
    out.push('## Notes');
    out.push('');
    for (const note of input.notes) out.push(`- ${note}`);
    out.push('');
  }
  for (const section of input.sections) {
    out.push(`## ${section.title}`);
    out.push('');
    if (section.description) {
      out.push(section.description.trim());
      out.push('');
    }
    if (section.command) {
      out.push(`Command: \`${section.command}\``);
      out.push('');
    }
    if (section.skipped) {
      out.push(`**Not measured in this run:** ${section.skipped}`);
      out.push('');
      continue;
    }
    for (const block of section.blocks) {
      out.push(block.trim());
      out.push('');
    }
    if (section.durationMs !== undefined) {
      out.push(`_Scenario wall time: ${(section.durationMs / 1000).toFixed(0)} s._`);
      out.push('');
    }
  }
  for (const block of input.preserved ?? []) {
    out.push(block);
    out.push('');
  }
  return `${out.join('\n').trim()}\n`;
}
