import { ExitCode, ToContext, type HookResult, type ProcessClass } from 'plumpy-ts';
import { z } from 'zod';
import { InvalidOperationError, ValidationError, type ValidationIssue } from '../../../errors.js';
import { Bool, Dict, Int, Str } from '../../../orm/nodes/data/base.js';
import { RemoteData } from '../../../orm/nodes/data/remote.js';
import { CalcJobNode } from '../../../orm/nodes/process/calcjob.js';
import type { ProcessNode } from '../../../orm/nodes/process/process.js';
import { getLogger } from '../../logging.js';
import { METADATA_KEY } from '../base-spec.js';
import { nodeType } from '../ports.js';
import { append_ } from './context.js';
import { WorkChain } from './workchain.js';

/**
 * What a process handler returns when it handled the finished child (aiida's `ProcessHandlerReport`): `doBreak`
 * skips the handlers of lower priority; a non-zero `exitCode` ends the work chain with it, status 0 restarts.
 */
export class ProcessHandlerReport {
  readonly doBreak: boolean;
  readonly exitCode: ExitCode;

  constructor(options: { readonly doBreak?: boolean; readonly exitCode?: ExitCode } = {}) {
    this.doBreak = options.doBreak ?? false;
    this.exitCode = options.exitCode ?? new ExitCode(0);
  }
}

/** Options of a process handler (aiida's `@process_handler(priority=, exit_codes=, enabled=)`). */
export interface ProcessHandlerOptions {
  /** Handlers run from the highest priority down (default 0). */
  readonly priority?: number;
  /** Run only when the child finished with one of these exit codes. */
  readonly exitCodes?: ExitCode | readonly ExitCode[];
  /** Disabled handlers are skipped unless `handler_overrides` enables them (default true). */
  readonly enabled?: boolean;
}

/** A registered handler. */
export interface ProcessHandler {
  readonly name: string;
  readonly priority: number;
  readonly exitCodes: readonly ExitCode[] | undefined;
  readonly enabled: boolean;
}

const handlersByClass = new WeakMap<object, Map<string, ProcessHandler>>();

/** `cls` and the classes it extends, the base first. */
function classChain(cls: object): object[] {
  const chain: object[] = [];
  for (let current: unknown = cls; typeof current === 'function'; current = Object.getPrototypeOf(current))
    chain.unshift(current);
  return chain;
}

const UNHANDLED_FAILURE_ACTIONS = ['abort', 'pause', 'restart_once', 'restart_and_pause'] as const;

/** The context a restart work chain keeps. */
export interface RestartContext {
  inputs: Record<string, unknown>;
  children: ProcessNode[];
  handler_overrides: Record<string, unknown>;
  process_name: string;
  unhandled_failure: boolean;
  is_finished: boolean;
  iteration: number;
}

const CONSIDERED_HANDLERS_EXTRA = 'considered_handlers';

/**
 * Runs a child process (the class's `processClass`) until it succeeds (aiida's `BaseRestartWorkChain`): after each
 * run, the registered process handlers (`static { this.processHandler('name', {priority, exitCodes}) }`, methods
 * taking the child node and returning a {@link ProcessHandlerReport} or nothing) look at the child in order of
 * priority; a handled failure restarts with `this.ctx.inputs`, as many times as `max_iterations` allows (then
 * 401 `ERROR_MAXIMUM_ITERATIONS_EXCEEDED`), an unhandled failure follows `on_unhandled_failure` (`abort` by
 * default: 402 `ERROR_UNHANDLED_FAILURE`; `restart_once`: 402 `ERROR_SECOND_CONSECUTIVE_UNHANDLED_FAILURE` the
 * second time), an excepted or killed child ends it with 301/302. The outline subclasses set is typically
 * `setup`, `while_('shouldRunProcess')('runProcess', 'inspectProcess')`, `results`, with their own step filling
 * `this.ctx.inputs` first.
 */
export class BaseRestartWorkChain extends WorkChain.define((spec) =>
  spec
    .input('max_iterations', {
      validType: nodeType(Int),
      default: () => new Int(5),
      help: 'Maximum number of iterations the work chain will restart the process to finish successfully.',
    })
    .input('clean_workdir', {
      validType: nodeType(Bool),
      default: () => new Bool(false),
      help: 'If `true`, work directories of all called calculation jobs will be cleaned at the end of execution.',
    })
    .input('handler_overrides', {
      validType: nodeType(Dict),
      required: false,
      help: 'Mapping where keys are process handler names and the values are a dictionary, where each dictionary can define the `enabled` and `priority` key.',
    })
    .input('on_unhandled_failure', {
      validType: nodeType(Str),
      required: false,
      validator: (value: Str) =>
        (UNHANDLED_FAILURE_ACTIONS as readonly string[]).includes(value.value)
          ? undefined
          : `\`on_unhandled_failure\`: '${value.value}'. Must be one of: ${UNHANDLED_FAILURE_ACTIONS.join(', ')}`,
      help: 'Action to take when an unhandled failure occurs: abort (default), pause, restart_once, restart_and_pause.',
    })
    .input('pause_on_max_iterations', {
      validType: nodeType(Bool),
      required: false,
      help: 'Pause for inspection when max_iterations is reached instead of aborting; playing resets the counter.',
    })
    .exitCode(301, 'ERROR_SUB_PROCESS_EXCEPTED', 'The sub process excepted.')
    .exitCode(302, 'ERROR_SUB_PROCESS_KILLED', 'The sub process was killed.')
    .exitCode(401, 'ERROR_MAXIMUM_ITERATIONS_EXCEEDED', 'The maximum number of iterations was exceeded.')
    .exitCode(402, 'ERROR_UNHANDLED_FAILURE', 'The process failed with an unhandled failure.')
    .exitCode(
      402,
      'ERROR_SECOND_CONSECUTIVE_UNHANDLED_FAILURE',
      'The process failed for an unknown reason, twice in a row.',
    )
    .context<RestartContext>(),
) {
  /** The class of the process run in the loop (aiida's `_process_class`); set it in subclasses. */
  static processClass: ProcessClass | undefined;

  /**
   * Registers the method `name` of this class as a process handler (aiida's `@process_handler`). `TypeError` for
   * a name that is not a method taking the node, or bad options.
   */
  static processHandler(
    this: typeof BaseRestartWorkChain,
    name: string,
    options: ProcessHandlerOptions = {},
  ): void {
    const method = (this.prototype as unknown as Record<string, unknown>)[name];
    if (typeof method !== 'function')
      throw new ValidationError(`process handler \`${name}\` is not a method of ${this.name}`);
    if (method.length !== 1)
      throw new ValidationError(`process handler \`${name}\` has invalid signature: should be (node)`);
    const priority = options.priority ?? 0;
    if (!Number.isInteger(priority))
      throw new ValidationError('the `priority` keyword should be an integer.');
    const codes =
      options.exitCodes === undefined
        ? undefined
        : Array.isArray(options.exitCodes)
          ? options.exitCodes
          : [options.exitCodes];
    if (codes !== undefined && codes.some((code) => !(code instanceof ExitCode))) {
      throw new ValidationError('`exitCodes` should be an instance of `ExitCode` or a list thereof.');
    }
    if (options.enabled !== undefined && typeof options.enabled !== 'boolean')
      throw new ValidationError('the `enabled` keyword should be a boolean.');
    let own = handlersByClass.get(this);
    if (own === undefined) {
      own = new Map();
      handlersByClass.set(this, own);
    }
    own.set(name, {
      name,
      priority,
      exitCodes: codes as readonly ExitCode[] | undefined,
      enabled: options.enabled ?? true,
    });
  }

  /** The process handlers of this class and the classes it extends, in definition order. */
  static getProcessHandlers(): ProcessHandler[] {
    const chain = classChain(this);
    const out = new Map<string, ProcessHandler>();
    for (const cls of chain)
      for (const [name, handler] of handlersByClass.get(cls) ?? []) out.set(name, handler);
    return [...out.values()];
  }

  /** Whether `name` is a process handler of this class. */
  static isProcessHandler(name: string): boolean {
    return this.getProcessHandlers().some((handler) => handler.name === name);
  }

  static override isAbstract(): boolean {
    return this === BaseRestartWorkChain || super.isAbstract();
  }

  /** Checks `handler_overrides` against the handlers of the class, before anything is stored. */
  static override validateInputs(inputs: Readonly<Record<string, unknown>>): ValidationIssue[] {
    const issues = super.validateInputs(inputs);
    if (this.processClass === undefined)
      issues.push({
        path: 'inputs',
        message: `no process class is set on ${this.name} (static processClass)`,
      });
    const overrides = inputs['handler_overrides'];
    if (!(overrides instanceof Dict)) return issues;
    for (const [handler, value] of Object.entries(overrides.getDict())) {
      if (!this.isProcessHandler(handler)) {
        issues.push({
          path: 'inputs.handler_overrides',
          message: `The key \`${handler}\` is not a process handler of ${this.name}`,
        });
      } else if (typeof value === 'boolean') {
        getLogger('aiida').warn(
          {},
          `Setting a boolean as value for \`handler_overrides\` is deprecated. Use {'${handler}': {'enabled': ${value}}} instead.`,
        );
      } else if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        issues.push({
          path: 'inputs.handler_overrides',
          message: `The value of key \`${handler}\` is not a boolean or dictionary.`,
        });
      } else {
        for (const key of Object.keys(value)) {
          if (key !== 'enabled' && key !== 'priority') {
            issues.push({
              path: 'inputs.handler_overrides',
              message: `The value of key \`${handler}\` contain keys \`${key}\` which is not supported.`,
            });
          }
        }
      }
    }
    return issues;
  }

  /** The process class run in the loop. */
  get processClass(): ProcessClass {
    const cls = (this.constructor as typeof BaseRestartWorkChain).processClass;
    if (cls === undefined)
      throw new InvalidOperationError('no valid Process class defined for `processClass`');
    return cls;
  }

  /** Sets up the context (call it first in the outline; subclasses then fill `this.ctx.inputs`). */
  setup(): void {
    const overrides = this.inputs.handler_overrides;
    this.ctx.handler_overrides = overrides === undefined ? {} : overrides.getDict();
    this.ctx.process_name = this.processClass.name;
    this.ctx.unhandled_failure = false;
    this.ctx.is_finished = false;
    this.ctx.iteration = 0;
    this.ctx.children = [];
  }

  /** Whether another process should run: as long as the last one has not finished the work. */
  shouldRunProcess(): boolean {
    return this.ctx.is_finished !== true;
  }

  /** Launches the next process with `this.ctx.inputs`, labelled `iteration_NN`, and waits for it. */
  async runProcess(): Promise<ToContext> {
    const iteration = (this.ctx.iteration ?? 0) + 1;
    this.ctx.iteration = iteration;
    const unwrapped = this.ctx.inputs;
    if (unwrapped === undefined)
      throw new InvalidOperationError('no process input dictionary was defined in `this.ctx.inputs`');
    const metadata = {
      ...((unwrapped[METADATA_KEY] as Record<string, unknown> | undefined) ?? {}),
      call_link_label: `iteration_${String(iteration).padStart(2, '0')}`,
    };
    const child = await this.submit(this.processClass, { ...unwrapped, [METADATA_KEY]: metadata });
    const considered = (this.node.base.extras.get(CONSIDERED_HANDLERS_EXTRA, []) as unknown[][]).slice();
    considered.push([]);
    await this.node.base.extras.set(CONSIDERED_HANDLERS_EXTRA, considered);
    this.report(
      `launching ${this.ctx.process_name ?? ''}<${String((child as { pk?: unknown }).pk)}> iteration #${iteration}`,
    );
    return new ToContext({ children: append_(child as never) });
  }

  /** The enabled handlers with their priority, `handler_overrides` applied. */
  getProcessHandlersByPriority(): [number, ProcessHandler][] {
    const out: [number, ProcessHandler][] = [];
    for (const handler of (this.constructor as typeof BaseRestartWorkChain).getProcessHandlers()) {
      const overrides = (this.ctx.handler_overrides ?? {})[handler.name];
      let enabled: boolean | undefined;
      let priority: number | undefined;
      if (typeof overrides === 'boolean') enabled = overrides;
      else if (typeof overrides === 'object' && overrides !== null) {
        enabled = (overrides as { enabled?: boolean }).enabled;
        priority = (overrides as { priority?: number }).priority;
      }
      if (enabled === false || (enabled === undefined && !handler.enabled)) continue;
      out.push([priority ?? handler.priority, handler]);
    }
    return out;
  }

  async #callHandler(handler: ProcessHandler, node: ProcessNode): Promise<ProcessHandlerReport | undefined> {
    let result: unknown;
    if (
      handler.exitCodes !== undefined &&
      !handler.exitCodes.some((code) => code.status === node.exitStatus)
    ) {
      result = undefined;
    } else {
      const method = (this as unknown as Record<string, (node: ProcessNode) => unknown>)[handler.name]!;
      result = await method.call(this, node);
    }
    if (result !== undefined && result !== null && !(result instanceof ProcessHandlerReport)) {
      throw new ValidationError(
        `handler \`${handler.name}\` returned a value that is not a ProcessHandlerReport`,
      );
    }
    const considered = (this.node.base.extras.get(CONSIDERED_HANDLERS_EXTRA, []) as unknown[][]).slice();
    const current = considered.at(-1);
    if (current !== undefined) {
      const report = result as ProcessHandlerReport | undefined;
      current.push([
        handler.name,
        report === undefined || report === null
          ? null
          : { do_break: report.doBreak, exit_status: report.exitCode.status },
      ]);
      await this.node.base.extras.set(CONSIDERED_HANDLERS_EXTRA, considered);
    }
    return result ?? undefined;
  }

  /** Looks at the last child and calls the handlers (aiida's `inspect_process`); see the class documentation. */
  async inspectProcess(): Promise<ExitCode | undefined> {
    const codes = BaseRestartWorkChain.exitCodes;
    const node = this.ctx.children![this.ctx.iteration! - 1]!;
    if (node.isExcepted) return codes.ERROR_SUB_PROCESS_EXCEPTED;
    if (node.isKilled) return codes.ERROR_SUB_PROCESS_KILLED;
    const name = this.ctx.process_name ?? '';
    let lastReport: ProcessHandlerReport | undefined;
    const handlers = this.getProcessHandlersByPriority().sort((a, b) => b[0] - a[0]);
    for (const [, handler] of handlers) {
      const report = await this.#callHandler(handler, node);
      if (report !== undefined) lastReport = report;
      if (report?.doBreak === true) break;
    }
    if (node.isFailed && lastReport === undefined) {
      const action = this.inputs.on_unhandled_failure?.value ?? 'abort';
      const replay = `If you believe that the issue can be resolved by just retrying the same execution (e.g., in case of a node failure), you can just replay this work chain using \`verdi process play ${String(this.pk)}\`. Otherwise, you can kill the work chain using \`verdi process kill ${String(this.pk)}\`.`;
      const pauseMessage = `Paused for user inspection, see: 'verdi process report ${String(this.pk)}'`;
      if (action === 'abort') {
        this.report(`${name}<${String(node.pk)}> failed with an unhandled failure, aborting`);
        return codes.ERROR_UNHANDLED_FAILURE;
      }
      if (action === 'pause') {
        this.report(`${name}<${String(node.pk)}> failed with an unhandled failure, pausing for inspection`);
        this.report(replay);
        this.pause(pauseMessage);
        return undefined;
      }
      if (this.ctx.unhandled_failure === true) {
        if (action === 'restart_once') {
          this.report(
            `${name}<${String(node.pk)}> failed with an unhandled failure for the second consecutive time, aborting`,
          );
          return codes.ERROR_SECOND_CONSECUTIVE_UNHANDLED_FAILURE;
        }
        this.report(
          `${name}<${String(node.pk)}> failed with an unhandled failure for the second consecutive time, pausing for inspection`,
        );
        this.report(replay);
        this.ctx.unhandled_failure = false;
        this.pause(pauseMessage);
        return undefined;
      }
      this.ctx.unhandled_failure = true;
      this.report(`${name}<${String(node.pk)}> failed with an unhandled failure, restarting once more`);
      return undefined;
    }
    this.ctx.unhandled_failure = false;
    if (lastReport !== undefined) {
      if (this.ctx.is_finished === true) return lastReport.exitCode;
      const pauseOnMax = this.inputs.pause_on_max_iterations?.value ?? false;
      let pauseProcess = false;
      const maxIterations = this.inputs.max_iterations.value;
      if (this.ctx.iteration! >= maxIterations) {
        this.report(`Reached the maximum number of global iterations (${maxIterations}).`);
        if (!pauseOnMax) {
          this.report(`Aborting! Last ran: ${name}<${String(node.pk)}>`);
          return codes.ERROR_MAXIMUM_ITERATIONS_EXCEEDED;
        }
        pauseProcess = true;
      }
      const ok = lastReport.exitCode.status === 0;
      const template = node.isFinishedOk
        ? ok
          ? 'finished successfully but a handler was triggered, restarting'
          : 'finished successfully but a handler detected an unrecoverable problem, aborting'
        : ok
          ? 'failed but a handler dealt with the problem, restarting'
          : 'failed but a handler detected an unrecoverable problem, aborting';
      this.report(`${name}<${String(node.pk)}> ${template}`);
      if (ok && pauseProcess) {
        this.report(
          `Resetting the iteration counter(s) and pausing for inspection. You can resume execution using \`verdi process play ${String(this.pk)}\`, or kill the work chain using \`verdi process kill ${String(this.pk)}\`.`,
        );
        this.ctx.iteration = 0;
        this.pause(`Paused for user inspection, see: 'verdi process report ${String(this.pk)}'`);
        return undefined;
      }
      return lastReport.exitCode;
    }
    this.ctx.is_finished = true;
    return undefined;
  }

  /** The outputs of `node` to attach: by default those of the process class exposed on this one. */
  async getOutputs(node: ProcessNode): Promise<Record<string, unknown>> {
    return this.exposedOutputs(node, this.processClass);
  }

  /** Attaches the outputs of the last child (aiida's `results`). */
  async results(): Promise<undefined> {
    const node = this.ctx.children![this.ctx.iteration! - 1]!;
    this.report(`work chain completed after ${String(this.ctx.iteration)} iterations`);
    await this.attachOutputs(node);
    return undefined;
  }

  /** Attaches the outputs of `node` that this work chain's spec declares; reports missing required ones. */
  async attachOutputs(node: ProcessNode): Promise<Record<string, unknown>> {
    const outputs = await this.getOutputs(node);
    const existing = new Set(Object.keys(this.outputs));
    for (const [name, port] of this.spec().outputs) {
      const value = outputs[name];
      if (value === undefined) {
        if (port.required) {
          this.report(
            `required output \`${name}\` was not an output of ${this.ctx.process_name ?? ''}<${String(node.pk)}> (or an incorrect class/output is being exposed).`,
          );
        }
      } else if (!existing.has(name)) {
        this.outMany({ [name]: value });
      }
    }
    return outputs;
  }

  /** Cleans the remote folders of the calculation jobs below this one when `clean_workdir` is true. */
  protected override onTerminated(): HookResult {
    const hook = super.onTerminated();
    const clean = async (): Promise<void> => {
      if (!this.inputs.clean_workdir.value) {
        this.report('remote folders will not be cleaned');
        return;
      }
      const cleaned: string[] = [];
      for (const descendant of await this.node.getCalledDescendants()) {
        if (!(descendant instanceof CalcJobNode)) continue;
        const links = await descendant.base.links.getOutgoing({
          linkType: 'create',
          linkLabelFilter: 'remote_folder',
        });
        const folder = links.first()?.node;
        if (!(folder instanceof RemoteData)) continue;
        const computer = await folder.getComputer();
        if (computer === null) continue;
        try {
          const transport = await computer.openTransport();
          try {
            await transport.rmtree(folder.getRemotePath());
          } finally {
            await transport.close();
          }
          cleaned.push(String(descendant.pk));
        } catch (error) {
          getLogger('aiida').warn({ err: error, pk: descendant.pk }, 'could not clean the remote folder');
        }
      }
      if (cleaned.length > 0) this.report(`cleaned remote folders of calculations: ${cleaned.join(' ')}`);
    };
    return Promise.all([
      hook,
      clean().catch((error: unknown) =>
        getLogger('aiida').error({ err: error, pk: this.pk }, 'cleaning the work directories failed'),
      ),
    ]);
  }
}

/** Options of {@link onUnhandledFailureSchema}. */
export const onUnhandledFailureSchema = z.enum(UNHANDLED_FAILURE_ACTIONS);
