// The import graph of the sources, read from the files themselves (no TypeScript program, no bundler): what
// each module names in its import and export statements and in import(). The layering test
// (test/unit/layering.test.ts) and the client's start-up test (test/unit/client-imports.test.ts) both read it.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** One import statement: what it names, and whether tsc erases it (`import type`, `export type`). */
export interface Specifier {
  readonly spec: string;
  readonly typeOnly: boolean;
  /** Named by import(): loaded when that line runs, not when the module is. */
  readonly dynamic: boolean;
}

/** One edge of the graph. `target` is a module path from the root without extension ('shared/errors'), or a bare specifier. */
export interface Edge {
  readonly from: string;
  readonly target: string;
  readonly typeOnly: boolean;
}

/** Module path (from the root, no extension) → what it imports. */
export type ImportGraph = ReadonlyMap<string, readonly Edge[]>;

/**
 * Every module a source names: static imports and re-exports (type-only ones flagged) and import(). A statement
 * must start its line, so prose in comments that happens to say "import … from '…'" is not read as one.
 */
export function specifiersOf(source: string): Specifier[] {
  const found: Specifier[] = [];
  const statement = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\bfrom\s*)?['"]([^'"]+)['"]/gm;
  for (const m of source.matchAll(statement)) found.push({ spec: m[3]!, typeOnly: m[2] !== undefined, dynamic: false });
  for (const m of source.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push({ spec: m[1]!, typeOnly: false, dynamic: true });
  return found;
}

/** The modules a file loads at run time: what specifiersOf finds, less what tsc erases (and, with `dynamic` false, less import()). */
export function runtimeSpecifiers(source: string, { dynamic = true } = {}): string[] {
  return specifiersOf(source)
    .filter((s) => !s.typeOnly && (dynamic || !s.dynamic))
    .map((s) => s.spec);
}

/** '@aws-sdk/client-s3/x' → '@aws-sdk/client-s3', 'zod/v4' → 'zod', 'node:fs/promises' stays as it is. */
export function packageOf(spec: string): string {
  if (spec.startsWith('node:')) return spec;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

export function filesUnder(folder: string, ext: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return filesUnder(path, ext);
    return path.endsWith(ext) && !path.endsWith('.d.ts') ? [path] : [];
  });
}

const moduleOf = (root: string, file: string): string => relative(root, file).replace(/\.(ts|js|mjs)$/, '');

/** The graph of every .ts module under `folders` (relative to `root`), type-only imports included and flagged. */
export function importGraph(root: string, folders: readonly string[]): ImportGraph {
  const graph = new Map<string, Edge[]>();
  for (const file of folders.flatMap((folder) => filesUnder(join(root, folder), '.ts'))) {
    const from = moduleOf(root, file);
    const edges = specifiersOf(readFileSync(file, 'utf8')).map(({ spec, typeOnly }) => ({
      from,
      target: spec.startsWith('.') ? moduleOf(root, resolve(dirname(file), spec)) : packageOf(spec),
      typeOnly,
    }));
    graph.set(from, edges);
  }
  return graph;
}

/**
 * Follows relative runtime imports from `entries` (import() too, unless `dynamic` is false: then what loading
 * the entries loads); returns every file reached and every bare specifier seen (with a file that names it).
 */
export function walk(
  entries: string[],
  ext: '.ts' | '.js',
  root: string,
  { dynamic = true } = {},
): { files: string[]; external: Map<string, string> } {
  const seen = new Set<string>();
  const external = new Map<string, string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of runtimeSpecifiers(readFileSync(file, 'utf8'), { dynamic })) {
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), ext === '.ts' ? spec.replace(/\.js$/, '.ts') : spec));
      else external.set(spec, relative(root, file));
    }
  }
  return { files: [...seen].map((f) => moduleOf(root, f)), external };
}
