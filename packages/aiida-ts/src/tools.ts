/**
 * `aiida-ts/tools`: sharing and drawing provenance — archives in aiida-core's format (create, import, migrate,
 * inspect), provenance graphs (DOT, SVG, PNG), and dumps of processes, groups and profiles as folder trees.
 */
export * from './tools/archive/index.js';
export * from './tools/visualization/index.js';
export * from './tools/provenance/index.js';
export * from './tools/dumping/index.js';
