/**
 * `aiida-ts/tools`: sharing and drawing provenance — archives in aiida-core's format (create, import, migrate,
 * inspect) and provenance graphs (DOT, SVG, PNG).
 */
export * from './tools/archive/index.js';
export * from './tools/visualization/index.js';
export * from './tools/provenance/index.js';
