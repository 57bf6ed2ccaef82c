import type { RemoteData } from '../../../orm/nodes/data/remote.js';
import type { Node } from '../../../orm/nodes/node.js';

/**
 * Reads the inputs of a job that ran without aiida from its folder (aiida's `CalcJobImporter`): the inputs returned
 * by {@link parseRemoteData}, with the folder as `remote_folder`, import the job into the provenance graph. Register an
 * importer under the `aiida.calculations.importers` entry point of its calculation job's name.
 */
export abstract class CalcJobImporter {
  /** The inputs (nodes, or nested mappings of them) of the job whose files `remoteData` holds. */
  abstract parseRemoteData(
    remoteData: RemoteData,
    options?: Readonly<Record<string, unknown>>,
  ): Promise<Record<string, Node | Record<string, unknown>>>;
}
