import { z } from 'zod';
import { InputValidationError } from '../errors.js';
import { Computer } from '../orm/entities/computer.js';
import { RemoteData } from '../orm/nodes/data/remote.js';
import { ProcessNode } from '../orm/nodes/process/process.js';
import { nodeType } from '../engine/processes/ports.js';
import { CalcJob } from '../engine/processes/calcjobs/calcjob.js';
import { StashMode, type CalcInfoInput } from '../engine/processes/calcjobs/calc-info.js';
import type { Folder } from '../engine/processes/calcjobs/folder.js';
import { getLogger } from '../engine/logging.js';
import { registerCalculation } from './registry.js';

/**
 * Stashes files of a `RemoteData` (aiida's `StashCalculation`, entry point `core.stash`): by copy or archive on the
 * computer (no job is submitted), or, with `stash_mode` `submit_custom_code`, by a job running the `code` given with
 * the stash instructions as JSON on stdin. `metadata.options.stash` says what and where.
 */
export class StashCalculation extends CalcJob.define((spec) =>
  spec
    .input('source_node', {
      validType: nodeType(RemoteData, { serialize: false }),
      help: 'The RemoteData node containing the files to stash.',
    })
    .input('metadata.computer', {
      validType: z.instanceof(Computer),
      help: 'When using a "local" code, set the computer on which the calculation should be run.',
    })
    .input('metadata.options.resources', {
      validType: z.record(z.string(), z.unknown()),
      default: (): Record<string, unknown> => ({ num_machines: 1, num_mpiprocs_per_machine: 1 }),
    })
    .input('metadata.options.input_filename', { validType: z.string(), default: 'aiida.in' })
    .input('metadata.options.output_filename', { validType: z.string(), default: 'aiida.out' }),
) {
  static {
    const stash = this.spec().inputs.getPort('metadata.options.stash');
    stash.required = true;
  }

  override async prepareForSubmission(folder: Folder): Promise<CalcInfoInput> {
    const source = this.inputs.source_node;
    // The creator of the folder must be done, or files it still writes would be missed.
    const creator = (await source.base.links.getIncoming({ linkType: 'create' })).first()?.node;
    if (creator instanceof ProcessNode && !creator.isSealed)
      throw new InputValidationError(
        'The source_node is an expected output of an active calculation. Stashing files from running calculations is not possible, as it may skip files that are not yet written to the remote folder. Please use either the direct stashing method (via metadata.options.stash), or package the StashCalculation in a workflow to ensure proper sequencing.',
      );
    const computer = (this.inputs.metadata as { computer: Computer }).computer;
    if (source.computerId !== computer.pk)
      getLogger('aiida').warn(
        { pk: this.pk },
        'YOUR SETTING MIGHT RESULT IN A SILENT FAILURE! The computer of the source node and the computer of the calculation are strongly advised be the same.',
      );
    const stash = this.options.stash;
    if (stash === undefined) throw new InputValidationError('`metadata.options.stash` is required');
    const code = this.inputs.code;
    if (stash.stash_mode === StashMode.SUBMIT_CUSTOM_CODE) {
      if (code === undefined)
        throw new InputValidationError(
          `Input 'code' is required for \`StashMode.${stash.stash_mode}\` mode.`,
        );
      const inputFilename = this.options.input_filename ?? 'aiida.in';
      const outputFilename = this.options.output_filename ?? 'aiida.out';
      await folder.writeFile(
        inputFilename,
        `${JSON.stringify({ source_path: source.getRemotePath(), source_list: stash.source_list, target_base: stash.target_base })}\n`,
      );
      return {
        codesInfo: [{ codeUuid: code.uuid, stdinName: inputFilename, stdoutName: outputFilename }],
        retrieveList: [outputFilename],
      };
    }
    if (code !== undefined)
      throw new InputValidationError(
        `Input 'code' cannot be used for \`StashMode.${stash.stash_mode}\` mode. This Stash mode is performed on the login node, no submission is planned therefore no code is needed.`,
      );
    return { skipSubmit: true, codesInfo: [], retrieveList: [] };
  }
}
registerCalculation('core.stash', StashCalculation);
