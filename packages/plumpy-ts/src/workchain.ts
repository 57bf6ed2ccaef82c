import { z } from 'zod';
import { encodeAt } from './checkpoint-encoding.js';
import {
  InvalidStateError,
  OutlineError,
  PersistenceError,
  SpecError,
  type ValidationIssue,
} from './errors.js';
import type { KillMessage, Pid } from './messages.js';
import {
  Block,
  PropagateReturn,
  outlineDsl,
  setReservedStepNames,
  stepperStateSchema,
  type OutlineDsl,
  type OutlineHost,
  type OutlineItem,
  type Stepper,
  type StepperState,
} from './outline.js';
import type { Checkpoint } from './persistence.js';
import type { ProcessSpec } from './process-spec.js';
import type { SpecTypes } from './spec-types.js';
import { Process, findLiveProcess, processCheckpointSchema, type HookResult } from './process.js';
import {
  Continue,
  DEFAULT_STATE_CLASSES,
  Wait,
  Waiting,
  type StateClasses,
  type StateData,
  type StateHost,
  type StateJson,
} from './process-states.js';
import { isPlainObject, jsonValueSchema, type JsonValue } from './values.js';
import type { Awaitable, ContextAction, ContextAwaitable } from './workchain-types.js';

/** Returned by a step (or passed to `toContext`): awaitables to wait for, by context key (plumpy's `ToContext`). */
export class ToContext {
  readonly entries: Readonly<Record<string, unknown>>;

  constructor(entries: Readonly<Record<string, unknown>>) {
    this.entries = entries;
  }
}

/** Puts the awaited value under the context key (the default). */
export function assign_<V>(awaitable: Awaitable<V>): ContextAwaitable<V, 'assign'> {
  return { action: 'assign', awaitable };
}

/** Appends the awaited value to the list under the context key. */
export function append_<V>(awaitable: Awaitable<V>): ContextAwaitable<V, 'append'> {
  return { action: 'append', awaitable };
}

/** One pending awaitable of a work chain. */
interface PendingAwaitable {
  readonly key: string;
  readonly action: ContextAction;
  /** The process awaited, or undefined for a plain Promise. */
  readonly pid: Pid | undefined;
  readonly promise: PromiseLike<unknown>;
}

const savedAwaitableSchema = z.object({
  key: z.string(),
  action: z.enum(['assign', 'append']),
  target: z.enum(['process', 'promise']),
  pid: z.union([z.string(), z.number()]).nullable(),
});

const TAKE_AWAITABLES = Symbol('plumpy-ts.takeAwaitables');
const RESOLVE_SAVED = Symbol('plumpy-ts.resolveSaved');
const APPLY = Symbol('plumpy-ts.apply');
// A symbol, not a `#method`: TypeScript compiles a class with private methods with an alias of the class that its
// static block would read before it is set.
const CONTEXT = Symbol('plumpy-ts.context');

/**
 * The waiting state of a work chain: waits for its awaitables, putting each value in the context as it
 * arrives, then continues with the next step. An awaitable that fails makes the work chain fail.
 */
export class WorkChainWaiting extends Waiting {
  readonly #pending: PendingAwaitable[];
  /** Whether this wait is for awaitables (rather than for `resume()`). */
  readonly #awaits: boolean;
  #armed = false;

  constructor(host: StateHost, data: StateData['waiting'], pending?: PendingAwaitable[]) {
    super(host, data);
    const workChain = host.process;
    this.#pending = pending ?? (workChain instanceof WorkChain ? workChain[TAKE_AWAITABLES]() : []);
    this.#awaits = pending !== undefined || this.#pending.length > 0;
  }

  /** The awaitables not yet resolved. */
  get pending(): readonly PendingAwaitable[] {
    return this.#pending;
  }

  override enter(): void {
    super.enter();
    this.#arm();
  }

  #arm(): void {
    const workChain = this.host.process;
    if (this.#armed || !(workChain instanceof WorkChain)) return;
    this.#armed = true;
    if (this.#pending.length === 0) return;
    for (const awaitable of [...this.#pending]) {
      awaitable.promise.then(
        (value) => {
          const index = this.#pending.indexOf(awaitable);
          if (index < 0 || this.settled) return;
          this.#pending.splice(index, 1);
          try {
            workChain[APPLY](awaitable, value);
          } catch (error) {
            this.fail(error);
            return;
          }
          if (this.#pending.length === 0) this.resume();
        },
        (error: unknown) => {
          if (this.#pending.includes(awaitable)) this.fail(error);
        },
      );
    }
  }

  override toJSON(): StateJson {
    if (!this.#awaits) return super.toJSON();
    return {
      ...super.toJSON(),
      awaiting: this.#pending.map((a) => ({
        key: a.key,
        action: a.action,
        target: a.pid === undefined ? 'promise' : 'process',
        pid: a.pid ?? null,
      })),
    };
  }

  static override fromJSON(host: StateHost, json: StateJson): WorkChainWaiting {
    const base = Waiting.fromJSON(host, json);
    const awaiting = (json as Record<string, unknown>)['awaiting'];
    if (awaiting === undefined)
      return new WorkChainWaiting(
        host,
        { doneCallback: base.doneCallback, msg: base.msg, data: base.data },
        [],
      );
    const saved = z.array(savedAwaitableSchema).parse(awaiting);
    const workChain = host.process;
    const pending = saved.map((a) => ({
      key: a.key,
      action: a.action,
      pid: a.pid ?? undefined,
      promise: workChain instanceof WorkChain ? workChain[RESOLVE_SAVED](a) : Promise.resolve(undefined),
    }));
    const state = new WorkChainWaiting(
      host,
      { doneCallback: base.doneCallback, msg: base.msg, data: base.data },
      pending,
    );
    state.#arm();
    // Every awaitable had arrived before the checkpoint (the work chain was paused): go on at once.
    if ('awaiting' in json && pending.length === 0) state.resume();
    return state;
  }
}

const WAITING_MESSAGE = 'Waiting before next step';

const WORKCHAIN_STATE_CLASSES: StateClasses = { ...DEFAULT_STATE_CLASSES, waiting: WorkChainWaiting };

/** The checkpoint fields of a work chain: the process's plus the stepper position and the context. */
export const workChainCheckpointSchema = processCheckpointSchema.extend({
  stepper_state: stepperStateSchema.optional(),
  CONTEXT: z.record(z.string(), jsonValueSchema).optional(),
});

const outlines = new WeakMap<object, Block>();

/** What `WorkChain.outline` is called on: a work chain class. */
interface OutlineTarget<W> {
  readonly prototype: W;
  readonly name: string;
  spec(): ProcessSpec<SpecTypes>;
}

function methodNames(prototype: object | null): string[] {
  const names: string[] = [];
  for (
    let p = prototype;
    p !== null && p !== Object.prototype;
    p = Object.getPrototypeOf(p) as object | null
  ) {
    for (const name of Object.getOwnPropertyNames(p)) if (name !== 'constructor') names.push(name);
  }
  return names;
}

/**
 * A process whose steps follow an outline (plumpy's `WorkChain`): steps, `if_`/`elif_`/`else_`,
 * `while_` and `return_`, nested at will. Define the spec with `WorkChain.define(...)` and the outline in a
 * static block: `static { this.outline('setup', while_('notDone')('work'), 'results'); }`. The position in
 * the outline and the context (`ctx`) are checkpointed, so a reloaded work chain continues where it was.
 *
 * A step returns nothing to go on, a {@link ToContext} (or calls `toContext`) to wait for processes or
 * Promises first, or any other value to end the work chain with that result. The methods `run` and
 * `doStep` drive the outline and must not be overridden.
 */
export class WorkChain extends Process {
  static {
    // `this`, not the class name: tsc compiles a self-reference in a static block to an alias that is only
    // assigned after the class is defined, so the built module would fail to load
    setReservedStepNames(methodNames(this.prototype));
  }

  static override get stateClasses(): StateClasses {
    return WORKCHAIN_STATE_CLASSES;
  }

  static override get checkpointSchema(): z.ZodType<Checkpoint> {
    return workChainCheckpointSchema as unknown as z.ZodType<Checkpoint>;
  }

  /**
   * Sets the outline of this class (in a `static {}` block). Step and predicate names are checked against
   * the class at once: a malformed outline fails where the class is defined. Give the items directly, or a
   * callback that gets the DSL typed for this class (`({ if_, while_, return_ }) => [...]`).
   */
  static outline<W extends WorkChain>(
    this: OutlineTarget<W>,
    build: (dsl: OutlineDsl<NoInfer<W>>) => OutlineItem<NoInfer<W>>[],
  ): void;
  static outline<W extends WorkChain>(this: OutlineTarget<W>, ...items: OutlineItem<NoInfer<W>>[]): void;
  static outline<W extends WorkChain>(this: OutlineTarget<W>, ...items: unknown[]): void {
    const [first] = items;
    const list =
      items.length === 1 && typeof first === 'function' && !isMethodOf(this.prototype, first)
        ? (first as (dsl: OutlineDsl<W>) => OutlineItem<W>[])(outlineDsl as OutlineDsl<W>)
        : (items as OutlineItem<W>[]);
    if (!Array.isArray(list) || list.length === 0)
      throw new OutlineError(`the outline of ${this.name} is empty`);
    for (const name of ['run', 'doStep'] as const) {
      if (
        (this.prototype as unknown as Record<string, unknown>)[name] !==
        (WorkChain.prototype as unknown as Record<string, unknown>)[name]
      ) {
        throw new OutlineError(
          `the method \`${name}\` is protected and cannot be overridden (in ${this.name})`,
        );
      }
    }
    const block = new Block<W>(list);
    block.check(this.prototype, this.name);
    const spec = this.spec();
    if (spec.sealed) throw new SpecError(`cannot set the outline of ${this.name}: its spec is sealed`);
    spec.outline = block;
    outlines.set(this, block);
  }

  /** The outline of this class (inherited from the parent class if it set none). */
  static getOutline(): Block | undefined {
    return findOutline(this);
  }

  static override validateCheckpoint(checkpoint: Checkpoint): ValidationIssue[] {
    const issues = super.validateCheckpoint(checkpoint);
    const saved = checkpoint['stepper_state'] as StepperState | undefined;
    if (saved !== undefined) {
      const outline = this.getOutline();
      if (outline === undefined)
        issues.push({ path: 'stepper_state', message: `${this.name} has no outline` });
      else {
        try {
          outline.recreateStepper(saved, noHost);
        } catch (error) {
          issues.push({
            path: 'stepper_state',
            message: error instanceof Error ? error.message : String(error),
          });
        }
      }
    }
    return issues;
  }

  /**
   * The context; undefined until first used, when the spec's defaults make it (so that a checkpoint taken before the
   * first step holds no value that only exists in memory yet, such as an unstored node made by a default).
   */
  #ctx: Record<string, unknown> | undefined;
  #stepper: Stepper | undefined;
  #awaitables: PendingAwaitable[] = [];
  readonly #host: OutlineHost = {
    callStep: (name) => (this as unknown as Record<string, () => unknown>)[name]!(),
    testPredicate: (name) => {
      const value = (this as unknown as Record<string, () => unknown>)[name]!();
      if (typeof value !== 'boolean' && value !== null && value !== undefined) {
        this.logger.warn(
          { pid: this.pid, predicate: name },
          `The conditional predicate \`${name}\` returned \`${describeValue(value)}\` which is not boolean-like. The return value should be \`true\` or \`false\`.`,
        );
      }
      return Boolean(value);
    },
  };

  /** The context: values kept between steps and in checkpoints. */
  get ctx(): this['~context'] {
    return this[CONTEXT]();
  }

  /** The context, made from the spec's defaults at its first use. */
  [CONTEXT](): Record<string, unknown> {
    if (this.#ctx === undefined) this.#ctx = (this.constructor as typeof WorkChain).spec().initialContext();
    return this.#ctx;
  }

  /** A description of the current position in the outline (`1:while_(more)(0:work)`). */
  get stepperInfo(): string {
    return this.#stepper === undefined ? '' : this.#stepper.toString();
  }

  protected override onCreate(): HookResult {
    const result = super.onCreate();
    const outline = (this.constructor as typeof WorkChain).getOutline();
    if (outline === undefined)
      throw new OutlineError(
        `${this.constructor.name} has no outline (set one with \`static { this.outline(...) }\`)`,
      );
    this.#stepper = outline.createStepper(this.#host);
    return result;
  }

  override run(): unknown {
    return this.doStep();
  }

  /** Runs the next step of the outline. Not to be overridden. */
  doStep(): unknown {
    const stepper = this.#stepper;
    if (stepper === undefined) throw new InvalidStateError('the work chain has no stepper');
    this.#awaitables = [];
    let finished: boolean;
    let value: unknown;
    try {
      [finished, value] = stepper.step();
    } catch (error) {
      if (!(error instanceof PropagateReturn)) throw error;
      return error.exitCode;
    }
    if (
      value !== null &&
      typeof value === 'object' &&
      typeof (value as { then?: unknown }).then === 'function'
    ) {
      return Promise.resolve(value).then((resolved) => this.#afterStep(finished, resolved));
    }
    return this.#afterStep(finished, value);
  }

  #afterStep(finished: boolean, value: unknown): unknown {
    if (!finished && (value instanceof ToContext || this.continuesAfter(value))) {
      if (value instanceof ToContext) this.#addAwaitables(value.entries);
      if (this.#awaitables.length > 0) return new Wait('doStep', { msg: WAITING_MESSAGE });
      return new Continue('doStep');
    }
    // The outline ended: a value that would have gone on is no result.
    return finished && this.continuesAfter(value) ? undefined : value;
  }

  /**
   * Whether the outline goes on after a step returned `value` (a `ToContext` always goes on). plumpy's
   * rule: only nothing (`undefined` or `null`) goes on, any other value ends the work chain with it as the
   * result. aiida-ts overrides this to go on after exit status 0 as well.
   */
  protected continuesAfter(value: unknown): boolean {
    return value === undefined || value === null;
  }

  /** Waits, before the next step, for each awaitable, and puts its value in the context under its key. */
  toContext(entries: this['~contextEntries']): void {
    this.#addAwaitables(entries as Readonly<Record<string, unknown>>);
  }

  #addAwaitables(entries: Readonly<Record<string, unknown>>): void {
    for (const [key, entry] of Object.entries(entries)) {
      if (entry === undefined) continue;
      const explicit =
        isPlainObject(entry) &&
        (entry['action'] === 'assign' || entry['action'] === 'append') &&
        'awaitable' in entry;
      const action: ContextAction = explicit ? (entry['action'] as ContextAction) : 'assign';
      const target = explicit ? entry['awaitable'] : entry;
      this.#awaitables.push(this.#pendingFor(key, action, target));
    }
  }

  #pendingFor(key: string, action: ContextAction, target: unknown): PendingAwaitable {
    if (target instanceof Process) {
      return { key, action, pid: target.pid, promise: this.resolveAwaitable(target) };
    }
    if (
      target !== null &&
      typeof target === 'object' &&
      typeof (target as { then?: unknown }).then === 'function'
    ) {
      return { key, action, pid: undefined, promise: target as PromiseLike<unknown> };
    }
    throw new InvalidStateError(
      `the context entry '${key}' must be a process or a Promise, got ${target === null ? 'null' : typeof target}`,
    );
  }

  /** What the context gets for an awaited process: its outputs (override to put something else there). */
  protected resolveAwaitable(process: Process): PromiseLike<unknown> {
    return process.future();
  }

  /**
   * After a reload, the value of a process awaited before the checkpoint. The default finds the process
   * if it still runs in this JS process; override to find it elsewhere (aiida-ts waits for the node).
   */
  protected awaitProcess(pid: Pid): PromiseLike<unknown> {
    const live = findLiveProcess(pid);
    if (live === undefined) {
      return Promise.reject(
        new PersistenceError(
          `the awaited process ${String(pid)} is not running in this JS process`,
          this.pid,
        ),
      );
    }
    return this.resolveAwaitable(live);
  }

  [TAKE_AWAITABLES](): PendingAwaitable[] {
    const taken = this.#awaitables;
    this.#awaitables = [];
    return taken;
  }

  [RESOLVE_SAVED](saved: z.infer<typeof savedAwaitableSchema>): PromiseLike<unknown> {
    if (saved.target === 'promise' || saved.pid === null) {
      return Promise.reject(
        new PersistenceError(
          `the Promise awaited for '${saved.key}' before the checkpoint cannot be restored`,
          this.pid,
        ),
      );
    }
    return this.awaitProcess(saved.pid);
  }

  [APPLY](awaitable: PendingAwaitable, value: unknown): void {
    if (awaitable.action === 'assign') {
      this[CONTEXT]()[awaitable.key] = value;
      return;
    }
    const context = this[CONTEXT]();
    const list = context[awaitable.key];
    if (list === undefined) context[awaitable.key] = [value];
    else if (Array.isArray(list)) list.push(value);
    else
      throw new InvalidStateError(`cannot append to the context entry '${awaitable.key}': it is not a list`);
  }

  /** Killing a work chain also kills the processes it waits for (as aiida does). */
  protected override onKill(msg: KillMessage | null): HookResult {
    const result = super.onKill(msg);
    const state = this.stateObject;
    if (state instanceof WorkChainWaiting) {
      for (const awaitable of state.pending) {
        if (awaitable.pid === undefined) continue;
        const child = findLiveProcess(awaitable.pid);
        if (child !== undefined && !child.hasTerminated())
          child.kill(msg?.message ?? 'Killed by parent', { forceKill: msg?.force_kill ?? false });
      }
    }
    return result;
  }

  protected override saveInstanceState(out: Record<string, JsonValue>): void {
    super.saveInstanceState(out);
    if (this.#stepper !== undefined) out['stepper_state'] = this.#stepper.toJSON() as JsonValue;
    const context = this.#ctx;
    if (context !== undefined) out['CONTEXT'] = encodeAt('ctx', () => this.encodeValue(context));
  }

  protected override loadInstanceState(saved: Checkpoint): void {
    super.loadInstanceState(saved);
    const context = saved['CONTEXT'];
    this.#ctx = context === undefined ? undefined : (this.decodeValue(context) as Record<string, unknown>);
    const stepper = saved['stepper_state'] as StepperState | undefined;
    const outline = (this.constructor as typeof WorkChain).getOutline();
    if (stepper !== undefined && outline !== undefined)
      this.#stepper = outline.recreateStepper(stepper, this.#host);
  }
}

function findOutline(start: unknown): Block | undefined {
  for (let cls = start; typeof cls === 'function'; cls = Object.getPrototypeOf(cls) as unknown) {
    const block = outlines.get(cls);
    if (block !== undefined) return block;
  }
  return undefined;
}

function describeValue(value: unknown): string {
  try {
    return typeof value === 'string' ? value : JSON.stringify(value);
  } catch {
    return typeof value;
  }
}

function isMethodOf(prototype: object, fn: unknown): boolean {
  return typeof fn === 'function' && fn.name !== '' && (prototype as Record<string, unknown>)[fn.name] === fn;
}

const noHost: OutlineHost = {
  callStep: () => undefined,
  testPredicate: () => false,
};
