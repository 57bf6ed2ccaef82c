import { basename, resolve } from 'node:path';
import { Command } from 'commander';
import { isAiidaError } from '../../errors.js';
import type { Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';
import { resolveArgument } from '../utils/arguments.js';
import { addBaseDumpOptions, baseDumpOptions, NEW_FEATURE_WARNING, type BaseDumpFlags } from './options.js';

/** `verdi process dump PROCESS`: a process's files and those of everything it called, as a folder tree. */
export function processDumpCommand(cli: Cli): Command {
  const command = new Command('dump')
    .description(
      'Dump process input and output files to disk. Processes called by a workflow are subfolders, sorted by ' +
        'creation time (the tree of `verdi process status`). Each calculation has `inputs/` and `outputs/` (its ' +
        'input files and retrieved files), `node_inputs/` and `node_outputs/` (files of its input and output ' +
        'data); every folder has an `aiida_node_metadata.yaml`.',
    )
    .argument('<process>', 'Pk, uuid (or prefix) or label of the process.');
  addBaseDumpOptions(command).action(async (identifier: string, flags: BaseDumpFlags) => {
    const options = baseDumpOptions(flags);
    const storage = await cli.storage();
    await import('../../orm.js');
    const { loadNode } = await import('../../orm/loaders.js');
    const { ProcessNode } = await import('../../orm/nodes/process/process.js');
    const process = await resolveArgument('PROCESS', async () => {
      const node = await loadNode(identifier, { storage });
      if (!(node instanceof ProcessNode))
        throw new UsageError(
          `invalid value for PROCESS: \`${identifier}\` is node<${String(node.pk)}> (${node.constructor.name}), ` +
            'not a process: `verdi process dump` only takes process nodes',
        );
      return node;
    });
    cli.out.warning(NEW_FEATURE_WARNING);
    if (options.overwrite && options.dryRun) {
      cli.out.warning('Both `dry_run` and `overwrite` set to true. Operation will NOT be performed.');
      return;
    }
    const { defaultProcessDumpName, dumpProcess } = await import('../../tools/dumping/index.js');
    let output: string;
    if (flags.path === undefined) {
      output = resolve(defaultProcessDumpName(process));
      cli.out.report(`No output path specified. Using default: \`${output}\``);
    } else {
      cli.out.report(`Using specified output path: \`${flags.path}\``);
      output = resolve(flags.path);
    }
    if (options.dryRun) {
      cli.out.success('Dry run completed.');
      return;
    }
    try {
      await dumpProcess(process, {
        ...options,
        outputPath: output,
        report: (message) => cli.out.report(message),
      });
    } catch (error) {
      if (isAiidaError(error) && error.name === 'ExportValidationError')
        return cli.out.critical(`Data validation error during dump: ${error.message}`);
      return cli.out.critical(
        `Unexpected error during dump of process ${String(process.pk)}:\n (${(error as Error).message}).`,
      );
    }
    cli.out.success(
      `Raw files for process \`${String(process.pk)}\` dumped into folder \`${basename(output)}\`.`,
    );
  });
  return command;
}
