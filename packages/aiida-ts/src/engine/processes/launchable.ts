import { Process as PlumpyProcess, isPlainObject } from 'plumpy-ts';
import { InvalidOperationError } from '../../errors.js';
import type { EngineProcessClass } from './instantiate.js';

/** Marks objects that know what to launch: process builders. */
export const BUILDER_INPUTS = Symbol.for('aiida-ts.builderInputs');

/** A process builder as the launchers see it. */
export interface BuilderLike {
  readonly processClass: EngineProcessClass;
  [BUILDER_INPUTS](): Record<string, unknown>;
}

/** A process function as the launchers see it. */
export interface ProcessFunctionLike {
  readonly processClass: EngineProcessClass;
  readonly isProcessFunction: true;
}

/** What a launcher was given, resolved: the class to instantiate and its inputs. */
export interface LaunchRequest {
  readonly processClass: EngineProcessClass;
  readonly inputs: Record<string, unknown>;
  /** The outputs are the single `result` of a process function (unwrapped by `run`). */
  readonly isFunction: boolean;
}

/** Resolves a process class, process builder or process function (and its inputs) to what is launched. */
export function resolveLaunchable(
  target: unknown,
  inputs: Readonly<Record<string, unknown>> | undefined,
): LaunchRequest {
  if (inputs !== undefined && !isPlainObject(inputs))
    throw new InvalidOperationError('the inputs must be a plain object');
  if (typeof target === 'object' && target !== null && BUILDER_INPUTS in target) {
    const builder = target as BuilderLike;
    return {
      processClass: builder.processClass,
      inputs: { ...builder[BUILDER_INPUTS](), ...(inputs ?? {}) },
      isFunction: false,
    };
  }
  if (
    typeof target === 'function' &&
    (target as unknown as Partial<ProcessFunctionLike>).isProcessFunction === true
  ) {
    return {
      processClass: (target as unknown as ProcessFunctionLike).processClass,
      inputs: { ...(inputs ?? {}) },
      isFunction: true,
    };
  }
  if (typeof target === 'function' && target.prototype instanceof PlumpyProcess) {
    return { processClass: target as EngineProcessClass, inputs: { ...(inputs ?? {}) }, isFunction: false };
  }
  throw new InvalidOperationError(
    `cannot launch ${String(target)}: give a process class, a process builder or a process function`,
  );
}
