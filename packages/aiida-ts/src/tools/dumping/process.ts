import { resolve } from 'node:path';
import type { ProcessNode } from '../../orm/nodes/process/process.js';
import { dumpModeOf, ProcessDumpOptionsSchema, type ProcessDumpOptions } from './config.js';
import { defaultProcessDumpName, DumpNames, prepareDirectory } from './paths.js';
import { ProcessDumpExecutor } from './process-dumper.js';
import { writeProcessReadme } from './readme.js';
import { DumpTracker } from './tracker.js';

/** Options of {@link dumpProcess}: the dump options and where to write. */
export interface DumpProcessOptions extends ProcessDumpOptions {
  /** The folder of the dump; default `<label or process label>-<pk>` in the working directory. */
  readonly outputPath?: string;
}

/**
 * Dumps a process with everything it called as a folder tree, as aiida-core 2.8's `ProcessNode.dump()`: a
 * `README.md`, an `aiida_node_metadata.yaml` per process, the files of each calculation, and `aiida_dump_log.json`,
 * which makes a second dump into the same folder incremental (unchanged processes skipped). Gives the folder.
 *
 * @throws ExportValidationError when the process (or one it called) is not sealed and `dumpUnsealed` is not set.
 * @throws InvalidOperationError with `overwrite` when the folder is not empty and was not written by a dump.
 */
export async function dumpProcess(process: ProcessNode, options: DumpProcessOptions = {}): Promise<string> {
  const { outputPath, ...rest } = options;
  const config = ProcessDumpOptionsSchema.parse(rest);
  const base = resolve(outputPath ?? defaultProcessDumpName(process));
  const mode = dumpModeOf(config);
  if (mode === 'dry_run') return base;
  await prepareDirectory(base, { overwrite: mode === 'overwrite', leaf: true });
  const tracker = DumpTracker.load(base);
  config.report?.(`Starting dump of process node (PK: ${String(process.pk)}) in ${mode} mode...`);
  await new ProcessDumpExecutor(config, tracker).dump(process, base);
  await writeProcessReadme(process, base);
  config.report?.(`Saving final dump log to file \`${DumpNames.TRACKING_LOG}\`.`);
  await tracker.save();
  return base;
}
