/**
 * Helpers for testing processes (ours and aiida-ts's): example processes mirroring plumpy's test suite, a
 * listener that checkpoints a process at every event, and checkers that reload a process from each of its
 * checkpoints and make sure it runs on to the same end.
 */
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { MessageBuilder } from './messages.js';
import { InMemoryPersister, type Checkpoint, type CheckpointSource } from './persistence.js';
import { Process, type LoadContext, type ProcessClass, type ProcessOptions } from './process.js';
import type { ProcessListener } from './process-listener.js';
import { Continue, Kill, ProcessState, Wait } from './process-states.js';

/** A process with no inputs or outputs that does nothing. */
export class DummyProcess extends Process {
  static readonly EXPECTED_STATE_SEQUENCE: readonly ProcessState[] = [
    ProcessState.CREATED,
    ProcessState.RUNNING,
    ProcessState.FINISHED,
  ];
  static readonly EXPECTED_OUTPUTS: Readonly<Record<string, unknown>> = {};
}

/** Accepts any inputs and emits `default: 5`. */
export class DummyProcessWithOutput extends Process.define((spec) =>
  spec
    .configureInputs({ dynamic: true })
    .configureOutputs({ dynamic: true })
    .output('default', { validType: z.number().int() }),
) {
  static readonly EXPECTED_OUTPUTS: Readonly<Record<string, unknown>> = { default: 5 };

  override run(): void {
    this.out('default', 5);
  }
}

/** Emits `default: 5` into a dynamic output namespace. */
export class DummyProcessWithDynamicOutput extends Process.define((spec) =>
  spec.configureInputs({ dynamic: true }).configureOutputs({ dynamic: true }),
) {
  static readonly EXPECTED_OUTPUTS: Readonly<Record<string, unknown>> = { default: 5 };

  override run(): void {
    this.out('default', 5);
  }
}

/** Continues from `run` to `lastStep` (one extra `running` checkpoint). */
export class ProcessWithCheckpoint extends Process {
  override run(): Continue {
    return new Continue('lastStep');
  }

  lastStep(): void {}
}

/** Waits in `run` until resumed, then runs `lastStep`. */
export class WaitForSignalProcess extends Process {
  override run(): Wait {
    return new Wait('lastStep');
  }

  lastStep(): void {}
}

/** Kills itself from `run` with the message `killed`. */
export class KillProcess extends Process.define((spec) =>
  spec.input('forceKill', { validType: z.boolean(), default: false }),
) {
  override run(): Kill {
    return new Kill(MessageBuilder.kill('killed', this.inputs.forceKill));
  }
}

/** Declares a required output it never emits: it finishes unsuccessfully. */
export class MissingOutputProcess extends Process.define((spec) =>
  spec.output('default', { required: true }),
) {}

/** Emits `test: 5` in `run`. */
export class ProcessEventsTester extends Process.define((spec) => spec.configureOutputs({ dynamic: true })) {
  override run(): unknown {
    this.out('test', 5);
    return undefined;
  }
}

/** Three steps: `run` (emits `test: 5`), `middleStep`, `lastStep`. */
export class ThreeSteps extends ProcessEventsTester {
  static readonly EXPECTED_OUTPUTS: Readonly<Record<string, unknown>> = { test: 5 };

  override run(): Continue {
    this.out('test', 5);
    return new Continue('middleStep');
  }

  middleStep(): Continue {
    return new Continue('lastStep');
  }

  lastStep(): unknown {
    return undefined;
  }
}

/** Two steps, the second does nothing. */
export class TwoCheckpointNoFinish extends ProcessEventsTester {
  override run(): Continue {
    this.out('test', 5);
    return new Continue('middleStep');
  }

  middleStep(): void {}
}

/** Emits an output, then throws `Great scott!`. */
export class ExceptionProcess extends ProcessEventsTester {
  override run(): never {
    this.out('test', 5);
    throw new Error('Great scott!');
  }
}

/** Three steps, the last throws. */
export class ThreeStepsThenException extends ThreeSteps {
  override lastStep(): never {
    throw new Error('Great scott!');
  }
}

/** A test process class that knows the outputs it finishes with. */
export type TestProcessClass = typeof Process & {
  readonly EXPECTED_OUTPUTS: Readonly<Record<string, unknown>>;
};

/** plumpy's `TEST_PROCESSES`: they finish, with `EXPECTED_OUTPUTS`. */
export const TEST_PROCESSES: readonly TestProcessClass[] = [
  DummyProcess,
  DummyProcessWithOutput,
  DummyProcessWithDynamicOutput,
  ThreeSteps,
];
/** plumpy's `TEST_WAITING_PROCESSES`. */
export const TEST_WAITING_PROCESSES: readonly (typeof Process)[] = [
  ProcessWithCheckpoint,
  TwoCheckpointNoFinish,
  ExceptionProcess,
  ProcessEventsTester,
  ThreeStepsThenException,
];
/** plumpy's `TEST_EXCEPTION_PROCESSES`. */
export const TEST_EXCEPTION_PROCESSES: readonly (typeof Process)[] = [
  ExceptionProcess,
  ThreeStepsThenException,
  MissingOutputProcess,
];

/** Records which listener events a process fired. */
export class EventRecorder implements ProcessListener {
  readonly events: string[] = [];

  constructor(process?: Process) {
    process?.addProcessListener(this);
  }

  get called(): Set<string> {
    return new Set(this.events);
  }

  onProcessRunning(): void {
    this.events.push('running');
  }
  onProcessWaiting(): void {
    this.events.push('waiting');
  }
  onProcessPaused(): void {
    this.events.push('paused');
  }
  onProcessPlayed(): void {
    this.events.push('played');
  }
  onOutputEmitted(): void {
    this.events.push('output_emitted');
  }
  onProcessFinished(): void {
    this.events.push('finished');
  }
  onProcessExcepted(): void {
    this.events.push('excepted');
  }
  onProcessKilled(): void {
    this.events.push('killed');
  }
}

/** One capture of {@link ProcessSaver}. */
export interface Snapshot {
  readonly state: ProcessState;
  readonly checkpoint: Checkpoint;
  readonly outputs: unknown;
}

/**
 * Checkpoints a process each time it enters a state or pauses (plumpy's `ProcessSaver`), keeping a copy of
 * its outputs too.
 */
export class ProcessSaver implements ProcessListener {
  readonly snapshots: Snapshot[] = [];
  readonly process: Process;

  constructor(process: Process) {
    this.process = process;
    process.addProcessListener(this);
  }

  #save(process: Process): void {
    this.snapshots.push({
      state: process.state,
      checkpoint: process.save(),
      outputs: structuredClone(process.outputs),
    });
  }

  /** Saves the current state, then runs the process to its end (ignoring its failure). */
  async capture(): Promise<void> {
    this.#save(this.process);
    if (!this.process.hasTerminated()) await this.process.execute().catch(() => undefined);
  }

  onProcessRunning(process: Process): void {
    this.#save(process);
  }
  onProcessWaiting(process: Process): void {
    this.#save(process);
  }
  onProcessPaused(process: Process): void {
    this.#save(process);
  }
  onProcessFinished(process: Process): void {
    this.#save(process);
  }
  onProcessExcepted(process: Process): void {
    this.#save(process);
  }
  onProcessKilled(process: Process): void {
    this.#save(process);
  }
}

/** Keys that legitimately differ between an original run and a reloaded one (error stacks). */
const VOLATILE_KEYS = new Set(['exception']);

/** Compares two JSON values, ignoring `exclude` keys at any depth; returns the first difference's path. */
export function diffJson(
  a: unknown,
  b: unknown,
  exclude: ReadonlySet<string> = VOLATILE_KEYS,
  path = '',
): string | undefined {
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path || '<root>'}: ${a.length} items vs ${b.length}`;
    for (let i = 0; i < a.length; i += 1) {
      const d = diffJson(a[i], b[i], exclude, `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (
    typeof a === 'object' &&
    a !== null &&
    typeof b === 'object' &&
    b !== null &&
    !Array.isArray(a) &&
    !Array.isArray(b)
  ) {
    const ka = Object.keys(a).filter((k) => !exclude.has(k));
    const kb = Object.keys(b).filter((k) => !exclude.has(k));
    for (const key of new Set([...ka, ...kb])) {
      const sub = path === '' ? key : `${path}.${key}`;
      if (!(key in a)) return `${sub}: missing on the left`;
      if (!(key in b)) return `${sub}: missing on the right`;
      const d = diffJson(
        (a as Record<string, unknown>)[key],
        (b as Record<string, unknown>)[key],
        exclude,
        sub,
      );
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return isDeepStrictEqual(a, b)
    ? undefined
    : `${path || '<root>'}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
}

/**
 * Saves `process`, loads it back, saves the copy, and checks both checkpoints are equal (plumpy's
 * `_check_round_trip`). Returns the loaded copy; throws on a difference.
 */
export function checkRoundTrip(process: Process, context: LoadContext = {}): Process {
  const first = process.save();
  const loaded = Process.load(first, context);
  const second = loaded.save();
  const difference = diffJson(first, second);
  if (difference !== undefined) throw new Error(`the reloaded process saves differently at ${difference}`);
  if (loaded.pid !== process.pid)
    throw new Error(`the reloaded process has pid ${String(loaded.pid)}, not ${String(process.pid)}`);
  return loaded;
}

/** How a run ended, comparable between runs. */
export interface Outcome {
  readonly state: ProcessState;
  readonly outputs: unknown;
  readonly result: unknown;
  readonly successful: boolean | undefined;
  readonly error: string | undefined;
}

async function runToEnd(process: Process, drive?: (process: Process) => void): Promise<Outcome> {
  const listener: ProcessListener = {
    onProcessWaiting: (p) => drive?.(p),
    onProcessPaused: (p) => drive?.(p),
  };
  process.addProcessListener(listener);
  if (!process.hasTerminated()) {
    if (process.state === ProcessState.WAITING || process.paused) drive?.(process);
    await process.stepUntilTerminated();
  }
  return outcomeOf(process);
}

/** The outcome of a terminated process. */
export function outcomeOf(process: Process): Outcome {
  let result: unknown;
  let error: string | undefined;
  try {
    result = process.result();
  } catch (e) {
    error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
  return {
    state: process.state,
    outputs: structuredClone(process.outputs),
    result,
    successful: process.state === ProcessState.FINISHED ? process.successful() : undefined,
    error,
  };
}

/** An {@link InMemoryPersister} that also keeps every checkpoint saved, in order. */
export class RecordingPersister extends InMemoryPersister {
  readonly checkpoints: Checkpoint[] = [];

  override saveCheckpoint(source: CheckpointSource, tag: string | null = null): Promise<void> {
    const checkpoint = source.save();
    this.checkpoints.push(checkpoint);
    return super.saveCheckpoint({ pid: source.pid, save: () => checkpoint }, tag);
  }
}

/** Options of {@link checkEveryCheckpoint}. */
export interface CheckEveryCheckpointOptions<C extends ProcessClass> {
  /** The options of the process under test. */
  readonly options?: ConstructorParameters<C>[0];
  /** Called whenever the process (original or reloaded) waits or pauses: resume or play it here. */
  readonly drive?: (process: Process) => void;
  readonly context?: LoadContext;
}

/** The result of {@link checkEveryCheckpoint}. */
export interface CheckpointReport {
  /** How the uninterrupted run ended. */
  readonly outcome: Outcome;
  /** The checkpoints taken (one per state change and pause). */
  readonly checkpoints: readonly Checkpoint[];
}

/**
 * Runs a process of `processClass` with an in-memory persister keeping every checkpoint (each state change
 * and pause), then reloads a process from each checkpoint, runs it on, and checks that it ends exactly as
 * the uninterrupted run did (state, outputs, result, success, error message). Throws on a difference.
 */
export async function checkEveryCheckpoint<C extends ProcessClass>(
  processClass: C,
  options: CheckEveryCheckpointOptions<C> = {},
): Promise<CheckpointReport> {
  const persister = new RecordingPersister();
  const checkpoints = persister.checkpoints;
  const given = (options.options ?? {}) as ProcessOptions;
  const process = new processClass({ ...given, persister });
  const outcome = await runToEnd(process, options.drive);
  if (checkpoints.length === 0) throw new Error(`${processClass.name} was never checkpointed`);
  for (const [index, checkpoint] of checkpoints.entries()) {
    const loaded = Process.load(checkpoint, options.context ?? {});
    const reloaded = await runToEnd(loaded, options.drive);
    const difference = diffJson(outcome, reloaded);
    if (difference !== undefined) {
      throw new Error(
        `${processClass.name} reloaded from checkpoint ${index} (state '${String((checkpoint['state'] as { label?: unknown }).label)}') ended differently: ${difference}`,
      );
    }
  }
  return { outcome, checkpoints };
}

/**
 * Reloads a process from each of `snapshots` (taken by a {@link ProcessSaver}), runs it on with a new saver,
 * and checks that its snapshots match the original ones from the end backwards (plumpy's
 * `check_process_against_snapshots`). Throws on a difference.
 */
export async function checkProcessAgainstSnapshots(
  snapshots: readonly Snapshot[],
  context: LoadContext = {},
): Promise<void> {
  for (const [index, snapshot] of snapshots.entries()) {
    const loaded = Process.load(snapshot.checkpoint, context);
    const saver = new ProcessSaver(loaded);
    await saver.capture();
    const count = Math.min(snapshots.length, saver.snapshots.length);
    for (let j = 1; j < count; j += 1) {
      const original = snapshots[snapshots.length - j] as Snapshot;
      const replayed = saver.snapshots[saver.snapshots.length - j] as Snapshot;
      const difference = diffJson(original.checkpoint, replayed.checkpoint);
      if (difference !== undefined)
        throw new Error(`reloaded from snapshot ${index}, snapshot -${j} differs: ${difference}`);
    }
  }
}

/** Resolves when the process enters `waiting` (at once if it is waiting). */
export function runUntilWaiting(process: Process): Promise<void> {
  return untilEvent(process, () => process.state === ProcessState.WAITING, 'onProcessWaiting');
}

/** Resolves when the process is paused (at once if it is). */
export function runUntilPaused(process: Process): Promise<void> {
  return untilEvent(process, () => process.paused, 'onProcessPaused');
}

function untilEvent(
  process: Process,
  already: () => boolean,
  event: 'onProcessWaiting' | 'onProcessPaused',
): Promise<void> {
  if (already()) return Promise.resolve();
  return new Promise((resolve) => {
    const listener: ProcessListener = {
      [event]: () => {
        process.removeProcessListener(listener);
        resolve();
      },
    };
    process.addProcessListener(listener);
  });
}

/** Polls `condition` every `intervalMs` until it holds or `timeoutMs` passes (then rejects). */
export async function waitUntil(
  condition: () => boolean,
  options: { readonly intervalMs?: number; readonly timeoutMs?: number } = {},
): Promise<void> {
  const interval = options.intervalMs ?? 10;
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('the condition did not hold in time');
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
