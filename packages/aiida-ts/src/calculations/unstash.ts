import path from 'node:path';
import { z } from 'zod';
import { InputValidationError } from '../errors.js';
import { Computer } from '../orm/entities/computer.js';
import { RemoteStashCustomData, RemoteStashData } from '../orm/nodes/data/remote-stash.js';
import { nodeType } from '../engine/processes/ports.js';
import { CalcJob } from '../engine/processes/calcjobs/calcjob.js';
import { UnstashTargetMode, type CalcInfoInput } from '../engine/processes/calcjobs/calc-info.js';
import { jobWorkdir, remoteWorkBase } from '../engine/processes/calcjobs/execmanager.js';
import type { Folder } from '../engine/processes/calcjobs/folder.js';
import { registerCalculation } from './registry.js';

/**
 * Puts stashed files back (aiida's `UnstashCalculation`, entry point `core.unstash`): into their original place or
 * into the working directory of this job (`unstash_target_mode`). A stash made with a custom code is unstashed by a
 * job running the `code` given with the instructions as JSON on stdin.
 */
export class UnstashCalculation extends CalcJob.define((spec) =>
  spec
    .input('source_node', { validType: nodeType(RemoteStashData, { serialize: false }), help: '' })
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
    this.spec().inputs.getPort('metadata.options.unstash').required = true;
  }

  override async prepareForSubmission(folder: Folder): Promise<CalcInfoInput> {
    const source = this.inputs.source_node;
    const unstash = this.options.unstash;
    if (unstash === undefined) throw new InputValidationError('`metadata.options.unstash` is required');
    const code = this.inputs.code;
    if (!(source instanceof RemoteStashCustomData)) {
      if (code !== undefined)
        throw new InputValidationError(
          `Input 'code' cannot be used for \`UnstashTargetMode.${unstash.unstash_target_mode}\` mode. This UnStash mode is performed on the login node, no submission is planned therefore no code is needed.`,
        );
      return { skipSubmit: true, codesInfo: [], retrieveList: [] };
    }
    if (code === undefined)
      throw new InputValidationError(
        `Input 'code' is required for \`UnstashTargetMode.${unstash.unstash_target_mode}\` mode.`,
      );
    let target: string;
    if (unstash.unstash_target_mode === UnstashTargetMode.ORIGINAL_PLACE) {
      const origin = (await source.base.links.getIncoming()).first()?.node;
      const workdir = (
        origin as { getRemoteWorkdir?: () => string | null } | undefined
      )?.getRemoteWorkdir?.();
      if (workdir === undefined || workdir === null)
        throw new InputValidationError(
          'Your stash node is not connected to any calcjob node, cannot find the source path.',
        );
      target = workdir;
    } else {
      const computer = (this.inputs.metadata as { computer: Computer }).computer;
      const transport = await computer.openTransport();
      try {
        target = jobWorkdir(await remoteWorkBase(computer, transport), this.node.uuid);
      } finally {
        await transport.close();
      }
    }
    const inputFilename = this.options.input_filename ?? 'aiida.in';
    const outputFilename = this.options.output_filename ?? 'aiida.out';
    await folder.writeFile(
      inputFilename,
      `${JSON.stringify({ source_path: source.targetBasepath, source_list: unstash.source_list, target_base: path.posix.normalize(target) })}\n`,
    );
    return {
      codesInfo: [{ codeUuid: code.uuid, stdinName: inputFilename, stdoutName: outputFilename }],
      retrieveList: [outputFilename],
    };
  }
}
registerCalculation('core.unstash', UnstashCalculation);
