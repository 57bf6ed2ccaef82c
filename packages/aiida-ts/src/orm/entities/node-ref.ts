import type { StorageBackend } from '../../storage/backend.js';

/**
 * What comments and logs need of the node they belong to (a `Node` is one). Comments and logs depend on this shape
 * rather than on the `Node` class, whose module offers `node.base.comments` and `node.base.logs` and so imports them.
 */
export interface NodeRef {
  /** The node's pk; null while unstored. */
  readonly pk: number | null;
  readonly isStored: boolean;
  /** The storage the node is stored in. */
  readonly storage: StorageBackend | undefined;
  /** The node type string (`data.core.int.Int.`), which names the node's logger. */
  readonly nodeType: string;
}
