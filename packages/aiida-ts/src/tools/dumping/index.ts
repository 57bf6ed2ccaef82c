/**
 * Dumping the provenance to plain folders, as aiida-core 2.8's `aiida.tools._dumping`: processes
 * ({@link dumpProcess}), groups and profiles (their processes organised by group), incrementally.
 */
export { DumpMode, type CollectionDumpOptions, type ProcessDumpOptions } from './config.js';
export { DumpNames, defaultProcessDumpName } from './paths.js';
export { dumpProcess, type DumpProcessOptions } from './process.js';
export { DumpTracker, type DumpRecord } from './tracker.js';
export {
  dumpGroup,
  dumpProfile,
  profileDumpSelects,
  type CollectionDumpResult,
  type CollectionDumpTarget,
} from './collection.js';
