/**
 * The shape CONVENTIONS.md promises, checked on every run: no import cycle between files or between folders, and no
 * module over 300 lines. Folders under a package's `src/` are its modules; a file directly in `src/` (the app's
 * composition, its config) is a node of its own. Imports are read with TypeScript's own pre-processor, type-only
 * and dynamic imports included: each is a dependency of the design.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@shop/service-kit/testing';

const SOURCE_ROOTS = ['packages', 'services'].flatMap((group) =>
  readdirSync(join(REPO_ROOT, group), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(group, entry.name, 'src')),
);
const MAX_LINES = 300;

function sourceFiles(root: string): string[] {
  return readdirSync(join(REPO_ROOT, root), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => join(root, file));
}

const files = SOURCE_ROOTS.flatMap(sourceFiles);
const known = new Set(files);

/** The repository's own files a file imports (relative specifiers only: packages cannot import each other's insides). */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(join(REPO_ROOT, file), 'utf8'), true, true);
  return importedFiles
    .map(({ fileName }) => fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => relative(REPO_ROOT, resolve(REPO_ROOT, dirname(file), specifier)))
    .filter((target) => known.has(target));
}

const graph = new Map(files.map((file) => [file, importsOf(file)]));

/** Every cycle's first closing path found by a depth-first walk (empty when the graph has none). */
function cycles(edges: Map<string, Set<string> | string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const found: string[][] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    path.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of edges.keys()) if (!state.has(node)) visit(node);
  return found;
}

/** A file's module: its folder under `src/`, or the file itself when it lies directly in `src/`. */
function moduleOf(file: string): string {
  const root = SOURCE_ROOTS.find((candidate) => file.startsWith(`${candidate}/`))!;
  const [first, ...rest] = file.slice(root.length + 1).split('/');
  return rest.length === 0 ? file : join(root, first!);
}

describe('module structure (CONVENTIONS.md)', () => {
  it('reads the sources it checks', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(graph.get('services/aths/src/app.ts')!.length).toBeGreaterThan(5);
  });

  it('has no import cycle between files', () => {
    expect(cycles(graph).map((cycle) => cycle.join(' -> '))).toEqual([]);
  });

  it('has no import cycle between modules (folders under src/)', () => {
    const modules = new Map<string, Set<string>>();
    for (const [file, targets] of graph) {
      const from = moduleOf(file);
      const set = modules.get(from) ?? modules.set(from, new Set()).get(from)!;
      for (const target of targets) if (moduleOf(target) !== from) set.add(moduleOf(target));
    }
    expect(cycles(modules).map((cycle) => cycle.join(' -> '))).toEqual([]);
  });

  it(`has no module over ${MAX_LINES} lines`, () => {
    const long = files.filter((file) => readFileSync(join(REPO_ROOT, file), 'utf8').trimEnd().split('\n').length > MAX_LINES);
    expect(long).toEqual([]);
  });
});
