import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importCycles, importGraph, type ImportEdge } from './import-graph.js';

/**
 * The layers of aiida-ts, as folders of `src/`, and which may import which. A top-level `x.ts` is the public entry
 * point of folder `x` and counts as part of it; `errors.ts`, `index.ts` and `testing.ts` are their own rows.
 *
 * - `runtime`: folders whose modules this folder may import (statically or with `import()`).
 * - `types`: folders it may import types from only (`import type`): nothing of theirs loads with it.
 * - `entry`: folders the public entry point `x.ts` re-exports besides (an entry point gathers a public surface).
 * - `lazy`: folders it may only load with `import()` when first needed (a registry naming its built-in plugins, the
 *   profile wiring loading ssh2 and the schedulers on first use): never loaded with the importer itself.
 *
 * The foundation (`errors`, and the small helper folders `common` and `utils`) is importable from everywhere and
 * imports nothing but itself. A folder missing from the table fails the test: add its row when you add the folder.
 */
const FOUNDATION = ['errors', 'common', 'utils'] as const;

interface Layer {
  readonly runtime: readonly string[];
  readonly types?: readonly string[];
  readonly lazy?: readonly string[];
  /** What the public entry point `<folder>.ts` re-exports beyond what the folder itself may import. */
  readonly entry?: readonly string[];
}

const LAYERS: Readonly<Record<string, Layer>> = {
  errors: { runtime: [] },
  common: { runtime: [] },
  utils: { runtime: [] },
  index: { runtime: [] },
  repository: { runtime: [] },
  transports: { runtime: [] },
  schedulers: { runtime: ['transports'] },
  storage: { runtime: ['repository'] },
  // the ORM describes computers (their transports and schedulers are types to it) but loads no plugin
  orm: { runtime: ['storage', 'repository'], types: ['transports', 'schedulers'] },
  querybuilder: { runtime: ['orm', 'storage'] },
  computers: { runtime: ['transports', 'schedulers'], types: ['orm'] },
  // the entry-point registry names aiida-core's built-in plugins, each loaded when first asked for
  plugins: { runtime: [], lazy: ['calculations', 'parsers', 'workflows'] },
  // the wiring of a profile: storage and repository, the ORM's plugin hooks, the registries loaded on first use
  config: { runtime: ['storage', 'repository', 'orm', 'plugins'], lazy: ['computers'] },
  engine: {
    runtime: [
      'config',
      'orm',
      'storage',
      'repository',
      'querybuilder',
      'transports',
      'schedulers',
      'computers',
      'plugins',
      'parsers',
      'calculations',
    ],
    // `aiida-ts/engine` also offers aiida-core's built-in workflows
    entry: ['workflows'],
  },
  parsers: { runtime: ['engine', 'orm', 'plugins'] },
  calculations: { runtime: ['engine', 'orm', 'plugins', 'computers', 'transports', 'schedulers'] },
  workflows: { runtime: ['engine', 'orm', 'plugins', 'calculations'] },
  tools: { runtime: ['engine', 'orm', 'storage', 'repository', 'querybuilder', 'config'] },
  testing: { runtime: ['storage', 'config'] },
  // the web server (`verdi web`): the REST API over the query builder, control through the engine's requests
  web: { runtime: ['engine', 'orm', 'storage', 'querybuilder'] },
  // the command line sits on top of everything
  cmdline: { runtime: ['*'] },
};

/**
 * Packages only some layers may use: the command line's libraries, the drivers behind storage, the broker and
 * workflow libraries behind the engine. Any other package is free.
 */
const PACKAGES: Readonly<Record<string, readonly string[]>> = {
  commander: ['cmdline'],
  picocolors: ['cmdline', 'engine'],
  'cli-table3': ['cmdline'],
  'cli-progress': ['cmdline'],
  tsx: ['cmdline'],
  amqplib: ['cmdline'],
  ssh2: ['transports'],
  pg: ['storage', 'cmdline'],
  'pg-cursor': ['storage'],
  'better-sqlite3': ['storage', 'repository', 'tools'],
  kysely: ['storage', 'orm', 'querybuilder', 'engine', 'tools', 'web'],
  pino: ['engine'],
  'plumpy-ts': ['engine', 'parsers', 'calculations', 'workflows'],
  'kiwipy-ts': ['engine', 'schedulers', 'cmdline', 'web'],
};

/** What a layer may never reach, following its run-time imports (static and dynamic) transitively. */
const NEVER_REACHES: Readonly<Record<string, readonly string[]>> = {
  orm: ['transports', 'schedulers', 'computers', 'engine', 'config', 'cmdline'],
  storage: ['orm', 'querybuilder', 'engine', 'config', 'cmdline'],
  repository: ['storage', 'orm', 'engine', 'cmdline'],
  transports: ['orm', 'storage', 'engine', 'cmdline'],
  schedulers: ['orm', 'storage', 'engine', 'cmdline'],
  querybuilder: ['engine', 'config', 'cmdline'],
  engine: ['cmdline'],
  config: ['cmdline'],
};

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** The layer of a module (its folder, or the folder its entry point stands for). */
function layerOf(module: string): string {
  const [first = '', ...rest] = module.split('/');
  return rest.length > 0 ? first : first.replace(/\.ts$/, '');
}

function describeEdge(edge: ImportEdge): string {
  const kind = edge.typeOnly ? 'imports types from' : edge.dynamic ? 'loads' : 'imports';
  return `${edge.from}:${edge.line} ${kind} ${edge.to}`;
}

/** Whether the table allows `edge` (between two modules of this package). */
function allowed(edge: ImportEdge): boolean {
  const from = layerOf(edge.from);
  const to = layerOf(edge.to);
  if (from === to) return true;
  const isFoundation = (layer: string): boolean => (FOUNDATION as readonly string[]).includes(layer);
  if (isFoundation(from)) return isFoundation(to);
  if (isFoundation(to)) return true;
  const layer = LAYERS[from];
  if (layer === undefined) return false;
  if (layer.runtime.includes('*') || layer.runtime.includes(to)) return true;
  if (!edge.from.includes('/') && (layer.entry ?? []).includes(to)) return true;
  if (edge.typeOnly && (layer.types ?? []).includes(to)) return true;
  return edge.dynamic && (layer.lazy ?? []).includes(to);
}

/** The layers `start` reaches through run-time imports. */
function reach(edges: readonly ImportEdge[], start: string): Set<string> {
  const next = new Map<string, string[]>();
  for (const edge of edges) {
    if (edge.external || edge.typeOnly) continue;
    next.set(edge.from, [...(next.get(edge.from) ?? []), edge.to]);
  }
  const seen = new Set<string>();
  const queue = [...next.keys()].filter((module) => layerOf(module) === start);
  for (const module of queue) seen.add(module);
  while (queue.length > 0) {
    for (const target of next.get(queue.pop()!) ?? []) {
      if (seen.has(target)) continue;
      seen.add(target);
      queue.push(target);
    }
  }
  return new Set([...seen].map(layerOf));
}

describe('the layers of aiida-ts', () => {
  const edges = importGraph(SRC);
  const internal = edges.filter((edge) => !edge.external);

  it('reads the imports it is meant to judge', () => {
    // a scan that found nothing would pass every rule below
    expect(edges.length).toBeGreaterThan(1000);
    expect(edges).toContainEqual(expect.objectContaining({ from: 'cmdline/main.ts', to: 'commander' }));
    expect(internal.some((edge) => edge.typeOnly)).toBe(true);
    expect(internal.some((edge) => edge.dynamic)).toBe(true);
  });

  it('has a row in the table for every folder of src', () => {
    const layers = new Set(
      edges.flatMap((edge) => [edge.from, ...(edge.external ? [] : [edge.to])]).map(layerOf),
    );
    expect([...layers].filter((layer) => LAYERS[layer] === undefined)).toEqual([]);
  });

  it('imports only what the table allows between folders', () => {
    expect(internal.filter((edge) => !allowed(edge)).map(describeEdge)).toEqual([]);
  });

  it('leaves the command line, database, ssh and broker libraries to their layers', () => {
    const offenders = edges.filter((edge) => {
      const users = edge.external ? PACKAGES[edge.to] : undefined;
      return users !== undefined && !users.includes(layerOf(edge.from));
    });
    expect(offenders.map(describeEdge)).toEqual([]);
  });

  it.each(Object.entries(NEVER_REACHES))('%s never reaches %j at run time', (layer, forbidden) => {
    const reached = reach(edges, layer);
    expect(forbidden.filter((other) => reached.has(other))).toEqual([]);
  });

  it('loads no module in a cycle (dynamic imports included)', () => {
    expect(importCycles(edges.filter((edge) => !edge.typeOnly))).toEqual([]);
  });

  it('has no cycle across folders, not even one held apart by type-only imports', () => {
    // Modules of one folder may name each other's types (a backend and the report type one of its methods returns);
    // a cycle through two folders means the layering is wrong however the imports are written.
    const folderOf = (module: string): string => path.dirname(module);
    const crossing = importCycles(edges).filter((cycle) => new Set(cycle.map(folderOf)).size > 1);
    expect(crossing).toEqual([]);
  });

  it('finds a cycle when there is one', () => {
    const edge = (from: string, to: string): ImportEdge => ({
      from,
      to,
      external: false,
      typeOnly: true,
      dynamic: false,
      line: 1,
    });
    expect(
      importCycles([edge('a.ts', 'b.ts'), edge('b.ts', 'c.ts'), edge('c.ts', 'a.ts'), edge('c.ts', 'd.ts')]),
    ).toEqual([['a.ts', 'b.ts', 'c.ts']]);
  });
});
