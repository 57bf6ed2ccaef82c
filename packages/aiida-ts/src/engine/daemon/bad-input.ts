import { Process as PlumpyProcess } from 'plumpy-ts';
import { ProcessAttribute, type ProcessNode } from '../../orm/nodes/process/process.js';
import type { StorageBackend } from '../../storage/backend.js';
import { exceptionText } from '../processes/engine-hooks.js';
import { processClassRegistry } from '../processes/process-type.js';
import type { DaemonLease } from './lease.js';
import { finishTask } from './task-table.js';

/**
 * Marks a process that cannot be continued (its class cannot be loaded, its checkpoint is corrupt) as aiida-core
 * does: `excepted` with the reason as its exception, checkpoint removed, sealed — under the worker's lease, with its
 * row removed in the same transaction (and its parent woken).
 */
export async function exceptUnderLease(
  storage: StorageBackend,
  lease: DaemonLease,
  node: ProcessNode,
  error: unknown,
): Promise<number | undefined> {
  return await storage.transaction(async (trx) => {
    await lease.check(false);
    await node.updateAttributes(
      {
        [ProcessAttribute.PROCESS_STATE]: 'excepted',
        [ProcessAttribute.EXCEPTION]: exceptionText(error),
        [ProcessAttribute.SEALED]: true,
      },
      [ProcessAttribute.CHECKPOINT],
    );
    return await finishTask(trx, storage, lease.pk);
  });
}

/**
 * Imports the module that defines a process class (a worker that has not loaded it yet) and registers the process
 * classes it exports, so that checkpoints naming them can be loaded.
 */
export async function importProcessModule(module: string): Promise<void> {
  const exports = (await import(module)) as Record<string, unknown>;
  for (const value of Object.values(exports)) {
    if (typeof value === 'function' && value.prototype instanceof PlumpyProcess) {
      processClassRegistry.identifyObject(value as typeof PlumpyProcess);
    }
  }
}
