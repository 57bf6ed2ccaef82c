import path from 'node:path';
import { z } from 'zod';
import { Computer } from '../orm/entities/computer.js';
import { Dict } from '../orm/nodes/data/base.js';
import { FolderData } from '../orm/nodes/data/files.js';
import { RemoteData } from '../orm/nodes/data/remote.js';
import { nodeType } from '../engine/processes/ports.js';
import { CalcJob } from '../engine/processes/calcjobs/calcjob.js';
import type { CalcInfoInput } from '../engine/processes/calcjobs/calc-info.js';
import { registerCalculation } from './registry.js';

type FileTriple = readonly [string, string, string];

function instructionsOf(node: Dict): Record<string, unknown> {
  return node.getDict();
}

/** The `instructions` input (aiida's `validate_instructions`). */
function validateInstructions(instructions: Dict): string | undefined {
  const settings = instructionsOf(instructions);
  const retrieveFiles = settings['retrieve_files'];
  if (retrieveFiles === undefined || retrieveFiles === null)
    return `no indication of what to do in the instruction node ${instructions.uuid}: to store the files in the repository set retrieve_files=True, to copy them to the specified folder on the remote computer, set it to False`;
  if (typeof retrieveFiles !== 'boolean')
    return `entry for retrieve files inside of instruction node ${instructions.uuid} must be either True or False; instead, it is: ${JSON.stringify(retrieveFiles)}`;
  const lists = ['local_files', 'remote_files', 'symlink_files'].map((key) => settings[key]);
  if (!lists.some((list) => Array.isArray(list) && list.length > 0))
    return `no indication of which files to copy were found in the instruction node ${instructions.uuid}. Please include at least one of \`local_files\`, \`remote_files\`, or \`symlink_files\`. These should be lists containing 3-tuples with the following format: (source_node_key, source_relpath, target_relpath)`;
  return undefined;
}

/** The whole inputs (aiida's `validate_transfer_inputs`): the instructions and the source nodes agree. */
function validateTransferInputs(inputs: Readonly<Record<string, unknown>>): string | undefined {
  const sources = (inputs['source_nodes'] ?? {}) as Readonly<Record<string, unknown>>;
  const instructions = inputs['instructions'];
  const computer = (inputs['metadata'] as { computer?: Computer } | undefined)?.computer;
  if (!(instructions instanceof Dict)) return undefined;
  const settings = instructionsOf(instructions);
  const errors: string[] = [];
  for (const [label, node] of Object.entries(sources)) {
    if (node instanceof RemoteData && computer !== undefined && node.computerId !== computer.pk)
      errors.push(
        ` > remote node \`${label}\` points to another computer, not the one being used (\`${computer.label}\`)`,
      );
  }
  const required = new Set<string>();
  const check = (list: string, type: typeof FolderData | typeof RemoteData, typeName: string): void => {
    for (const [label] of (settings[list] ?? []) as FileTriple[]) {
      required.add(label);
      const node = sources[label];
      if (node === undefined)
        errors.push(` > node \`${label}\` requested on list \`${list}\` not found among inputs`);
      else if (!(node instanceof type))
        errors.push(` > node \`${label}\`, requested on list \`${list}\` should be of type \`${typeName}\``);
    }
  };
  check('local_files', FolderData, 'data.core.folder.FolderData.');
  check('remote_files', RemoteData, 'data.core.remote.RemoteData.');
  check('symlink_files', RemoteData, 'data.core.remote.RemoteData.');
  for (const label of Object.keys(sources))
    if (!required.has(label)) errors.push(` > node \`${label}\` provided as inputs is not being used`);
  return errors.length > 0 ? errors.join('\n') : undefined;
}

/**
 * Copies files of `FolderData` and `RemoteData` nodes into one new folder on a computer (aiida's
 * `TransferCalculation`, entry point `core.transfer`), without running a code: `instructions` lists `local_files`,
 * `remote_files` and `symlink_files` as `[source key, source path, target path]` and says whether the files are then
 * retrieved into the repository (`retrieve_files`).
 */
export class TransferCalculation extends CalcJob.define((spec) =>
  spec
    .input('instructions', {
      validType: nodeType(Dict),
      validator: (value) => validateInstructions(value),
      help: 'A dictionary containing the `retrieve_files` flag and at least one of the file lists:`local_files`, `remote_files` and/or `symlink_files`.',
    })
    .inputNamespace('source_nodes', {
      validType: nodeType(FolderData, RemoteData, { serialize: false }),
      dynamic: true,
      help: 'All the nodes that contain files referenced in the instructions.',
    })
    .input('metadata.computer', {
      validType: z.instanceof(Computer),
      help: 'When using a "local" code, set the computer on which the calculation should be run.',
    })
    .input('metadata.options.resources', {
      validType: z.record(z.string(), z.unknown()),
      default: (): Record<string, unknown> => ({ num_machines: 1, num_mpiprocs_per_machine: 1 }),
    }),
) {
  static {
    const inputs = this.spec().inputs;
    // The transfer runs no code (aiida pops the port); the whole inputs are checked together.
    inputs.delete('code');
    inputs.validator = (value: Readonly<Record<string, unknown>>) => validateTransferInputs(value);
  }

  override prepareForSubmission(): CalcInfoInput {
    const sources = this.inputs.source_nodes as Readonly<Record<string, FolderData | RemoteData>>;
    const settings = instructionsOf(this.inputs.instructions);
    const retrievePaths: string[] = [];
    const localCopyList: [string, string, string][] = [];
    const remoteCopyList: [string, string, string][] = [];
    const remoteSymlinkList: [string, string, string][] = [];
    const computerUuid = (this.inputs.metadata as { computer: Computer }).computer.uuid;
    for (const [label, source, target] of (settings['local_files'] ?? []) as FileTriple[]) {
      retrievePaths.push(target);
      localCopyList.push([sources[label]!.uuid, source, target]);
    }
    for (const [label, source, target] of (settings['remote_files'] ?? []) as FileTriple[]) {
      retrievePaths.push(target);
      remoteCopyList.push([
        computerUuid,
        path.posix.join((sources[label] as RemoteData).getRemotePath(), source),
        target,
      ]);
    }
    for (const [label, source, target] of (settings['symlink_files'] ?? []) as FileTriple[]) {
      retrievePaths.push(target);
      remoteSymlinkList.push([
        computerUuid,
        path.posix.join((sources[label] as RemoteData).getRemotePath(), source),
        target,
      ]);
    }
    return {
      skipSubmit: true,
      codesInfo: [],
      localCopyList,
      remoteCopyList,
      remoteSymlinkList,
      retrieveList: settings['retrieve_files'] === true ? retrievePaths : [],
    };
  }
}
registerCalculation('core.transfer', TransferCalculation);
