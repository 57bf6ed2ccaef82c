import { DuplicateSubscriberIdentifierError, TaskRejectedError, type Communicator } from 'kiwipy-ts';
import { TaskType, continueTaskSchema } from 'plumpy-ts';
import { NotExistentError } from '../errors.js';
import { loadNode } from '../orm/loaders.js';
import { ProcessAttribute, ProcessNode } from '../orm/nodes/process/process.js';
import { getLogger } from './logging.js';
import { exceptionText, outputsOfNode } from './processes/engine-hooks.js';
import { flattenValues } from './processes/provenance.js';
import type { Runner } from './runner.js';

/** What a `continue` task answers: the process node's outcome (nodes travel as pks). */
export interface ContinueResult {
  readonly pk: number;
  readonly process_state: string | null;
  readonly exit_status: number | null;
  readonly outputs: Readonly<Record<string, number | null>>;
}

async function summary(node: ProcessNode): Promise<ContinueResult> {
  const outputs: Record<string, number | null> = {};
  for (const [label, output] of flattenValues(undefined, await outputsOfNode(node))) {
    outputs[label] = (output as { pk?: number | null }).pk ?? null;
  }
  return { pk: node.pk!, process_state: node.processState, exit_status: node.exitStatus, outputs };
}

/**
 * Takes the `continue` tasks of submitted processes (aiida's `ProcessLauncher._continue`): loads the process from
 * the checkpoint on its node into the runner and runs it to its end (the task stays unacknowledged meanwhile, so
 * another worker takes it over if this one dies). A task for a node that no longer exists is acknowledged and
 * dropped; one for a terminated process answers its outcome; one for a process already running here is dropped as a
 * duplicate. When the process cannot be loaded its node is marked excepted and sealed. Other task types are
 * rejected, for other subscribers.
 */
export class AiidaProcessLauncher {
  readonly #runner: Runner;
  readonly #subscriptions: { communicator: Communicator; identifier: string }[] = [];

  constructor(runner: Runner) {
    this.#runner = runner;
  }

  /** Subscribes to the task queue of `communicator` (the runner's by default); returns the subscriber id. */
  async subscribe(communicator: Communicator = this.#runner.communicator): Promise<string> {
    const identifier = await communicator.addTaskSubscriber((task) => this.handle(task));
    this.#subscriptions.push({ communicator, identifier });
    return identifier;
  }

  /** Handles one task; resolves to the process's outcome, or false for a task that was dropped. */
  async handle(task: unknown): Promise<ContinueResult | false> {
    const kind = (task as { task?: unknown } | null)?.task;
    if (kind !== TaskType.CONTINUE)
      throw new TaskRejectedError(`not a continue task: ${JSON.stringify(kind ?? null)}`);
    const parsed = continueTaskSchema.safeParse(task);
    if (!parsed.success) throw new TaskRejectedError(`malformed continue task: ${parsed.error.message}`);
    const pk = Number(parsed.data.args.pid);
    const runner = this.#runner;
    let node: ProcessNode;
    try {
      const loaded = await loadNode(pk, { storage: runner.storage });
      if (!(loaded instanceof ProcessNode)) return false;
      node = loaded;
    } catch (error) {
      if (error instanceof NotExistentError) {
        getLogger('aiida').warn({ pk }, `process<${pk}> does not exist: dropping its continue task`);
        return false;
      }
      throw error;
    }
    if (node.isTerminated) return summary(node);
    if (runner.getLiveProcess(pk) !== undefined && !runner.getLiveProcess(pk)!.isClosed) {
      getLogger('aiida').warn(
        { pk },
        `process<${pk}> already runs in this worker: dropping the duplicate task`,
      );
      return false;
    }
    let process;
    try {
      process = await runner.loadProcess(pk);
    } catch (error) {
      if (error instanceof DuplicateSubscriberIdentifierError) return false;
      getLogger('aiida').error({ err: error, pk }, `process<${pk}> cannot be continued: marking it excepted`);
      await node.setAttributes({
        [ProcessAttribute.PROCESS_STATE]: 'excepted',
        [ProcessAttribute.EXCEPTION]: exceptionText(error),
      });
      await node.seal();
      throw error;
    }
    if (parsed.data.args.nowait) {
      void runner.schedule(process);
      return summary(node);
    }
    await runner.schedule(process);
    const ended = await loadNode<ProcessNode>(pk, { storage: runner.storage });
    return summary(ended);
  }

  /** Removes the subscriptions (processes already taken run on). */
  async close(): Promise<void> {
    for (const { communicator, identifier } of this.#subscriptions.splice(0)) {
      if (!communicator.isClosed()) await communicator.removeTaskSubscriber(identifier);
    }
  }
}
