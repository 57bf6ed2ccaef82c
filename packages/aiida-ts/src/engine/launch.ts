import type { InputsOf, ProcessClass, ProcessOutputsOf } from 'plumpy-ts';
import { InvalidOperationError, ValidationError } from '../errors.js';
import { ProcessNode } from '../orm/nodes/process/process.js';
import { getLogger } from './logging.js';
import { getManager } from './manager.js';
import type { ProcessBuilder } from './processes/builder.js';
import type { ProcessFunction } from './processes/functions.js';
import { currentEngineProcess } from './processes/instantiate.js';
import { resolveLaunchable } from './processes/launchable.js';
import type { ProcessRunner, RunResult } from './processes/process-runner.js';
import type { ProcessNodeOf } from './processes/workchains/context.js';

/** The runner launches use: the one of the process running the current step, else the manager's. */
async function currentRunner(): Promise<ProcessRunner> {
  return currentEngineProcess()?.runner ?? (await getManager().getRunner());
}

/** What a process function returns when called: its single `result`, or its outputs. */
type FunctionResult<F> = F extends ProcessFunction<infer _I, infer R> ? R : never;
type FunctionInputs<F> = F extends ProcessFunction<infer I, infer _R> ? I : never;

/**
 * Runs a process (class, builder or process function) with `inputs` to its end in this JS process and resolves to
 * its outputs (a process function's single result as it is). Inside a process step the process becomes a child of
 * the current one. Rejects with the error of an excepted process (or `KilledError`); a process finishing with a
 * non-zero exit status resolves to the outputs it emitted.
 */
export function run<C extends ProcessClass>(
  processClass: C,
  inputs?: InputsOf<C>,
): Promise<ProcessOutputsOf<C>>;
export function run<F extends ProcessFunction>(fn: F, inputs: FunctionInputs<F>): Promise<FunctionResult<F>>;
export function run<C extends ProcessClass>(builder: ProcessBuilder<C>): Promise<ProcessOutputsOf<C>>;
export async function run(target: unknown, inputs?: unknown): Promise<unknown> {
  return (await currentRunner()).run(target, inputs as Readonly<Record<string, unknown>> | undefined);
}

/** Like {@link run}, and also gives the process node. */
export function runGetNode<C extends ProcessClass>(
  processClass: C,
  inputs?: InputsOf<C>,
): Promise<RunResult<ProcessOutputsOf<C>, ProcessNodeOf<C>>>;
export function runGetNode<F extends ProcessFunction>(
  fn: F,
  inputs: FunctionInputs<F>,
): Promise<RunResult<FunctionResult<F>>>;
export function runGetNode<C extends ProcessClass>(
  builder: ProcessBuilder<C>,
): Promise<RunResult<ProcessOutputsOf<C>, ProcessNodeOf<C>>>;
export async function runGetNode(target: unknown, inputs?: unknown): Promise<RunResult<unknown>> {
  return (await currentRunner()).runGetNode(target, inputs as Readonly<Record<string, unknown>> | undefined);
}

/** Like {@link run}, and also gives the pk of the process node. */
export function runGetPk<C extends ProcessClass>(
  processClass: C,
  inputs?: InputsOf<C>,
): Promise<{ readonly result: ProcessOutputsOf<C>; readonly pk: number }>;
export function runGetPk<F extends ProcessFunction>(
  fn: F,
  inputs: FunctionInputs<F>,
): Promise<{ readonly result: FunctionResult<F>; readonly pk: number }>;
export function runGetPk<C extends ProcessClass>(
  builder: ProcessBuilder<C>,
): Promise<{ readonly result: ProcessOutputsOf<C>; readonly pk: number }>;
export async function runGetPk(
  target: unknown,
  inputs?: unknown,
): Promise<{ readonly result: unknown; readonly pk: number }> {
  const { result, node } = await (
    await currentRunner()
  ).runGetNode(target, inputs as Readonly<Record<string, unknown>> | undefined);
  if (node.pk === null) throw new InvalidOperationError('the process did not store provenance: it has no pk');
  return { result, pk: node.pk };
}

/** Options of {@link submit}. */
export interface SubmitOptions {
  /** Wait until the process has terminated before resolving (default false). */
  readonly wait?: boolean;
  /** Seconds between two looks at the node while waiting (default 5). */
  readonly waitInterval?: number;
}

/**
 * Submits a process (class or builder) and resolves to its node at once: with a broker configured the process is
 * checkpointed and handed to the daemon as a `continue` task; without one it runs in the background of this JS
 * process (`awaitProcesses`, or `verdi run`, which waits for it). Refused inside a process step (use `this.submit`),
 * for process functions sent to a daemon and without provenance.
 */
export function submit<C extends ProcessClass>(
  processClass: C,
  inputs?: InputsOf<C>,
  options?: SubmitOptions,
): Promise<ProcessNodeOf<C>>;
export function submit<C extends ProcessClass>(
  builder: ProcessBuilder<C>,
  inputs?: undefined,
  options?: SubmitOptions,
): Promise<ProcessNodeOf<C>>;
export async function submit(
  target: unknown,
  inputs?: Readonly<Record<string, unknown>>,
  options: SubmitOptions = {},
): Promise<ProcessNode> {
  const request = resolveLaunchable(target, inputs);
  const metadata = request.inputs['metadata'] as { store_provenance?: unknown } | undefined;
  if (metadata?.store_provenance === false)
    throw new InvalidOperationError('cannot submit a process with `store_provenance=False`');
  const manager = getManager();
  const runner = await currentRunner();
  const managed = manager.hasBroker ? await manager.getRunner() : undefined;
  const node =
    managed !== undefined && runner === managed
      ? await managed.submitToDaemon(target, inputs)
      : await runner.submit(target, inputs);
  if (options.wait === true) await awaitProcesses([node], { waitInterval: options.waitInterval ?? 5 });
  return node;
}

/** Options of {@link awaitProcesses}. */
export interface AwaitProcessesOptions {
  /** Seconds between two looks at the nodes (default 1). */
  readonly waitInterval?: number;
}

/**
 * Waits until every process node in `nodes` has terminated (aiida's `await_processes`), logging how many have.
 * A `TypeError` for anything but a list of process nodes.
 */
export async function awaitProcesses(
  nodes: readonly ProcessNode[],
  options: AwaitProcessesOptions = {},
): Promise<void> {
  if (!Array.isArray(nodes)) throw new ValidationError('`nodes` should be a list of process nodes');
  for (const node of nodes) {
    if (!(node instanceof ProcessNode) || node.pk === null)
      throw new ValidationError(`${String(node)} is not a stored process node`);
  }
  const runner = await currentRunner();
  const interval = options.waitInterval ?? 1;
  let done = 0;
  const timer = setInterval(
    () => getLogger('aiida').report({}, `${done} out of ${nodes.length} processes terminated.`),
    interval * 1000,
  );
  try {
    await Promise.all(
      nodes.map(async (node: ProcessNode) => {
        await runner.getProcessFuture(node.pk!);
        await node.refresh();
        done += 1;
      }),
    );
  } finally {
    clearInterval(timer);
  }
  getLogger('aiida').report({}, `${done} out of ${nodes.length} processes terminated.`);
}
