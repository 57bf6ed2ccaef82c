import {
  Block,
  ExitCode,
  If,
  Return,
  While,
  append_ as plumpyAppend,
  assign_ as plumpyAssign,
  type ContextAwaitable,
  type Instruction,
} from 'plumpy-ts';
import type { Node } from '../../../orm/nodes/node.js';
import type { ProcessNode } from '../../../orm/nodes/process/process.js';

type IsUnknown<T> = unknown extends T ? true : false;

/** The entries of a parsed-inputs type that are linked to the node: not `metadata`, not plain (non-db) values. */
type LinkedInputs<I> =
  IsUnknown<I> extends true
    ? unknown
    : {
        readonly [
          K in keyof I as K extends 'metadata'
            ? never
            : NonNullable<I[K]> extends Node | Readonly<Record<string, unknown>>
              ? K
              : never
        ]: I[K];
      };

/**
 * The node of a process instance `P` (a child from `this.submit`, a process made by the engine), with
 * `node.inputs` and `node.outputs` typed from its spec: `await node.outputs.sum` is the output port's node type and
 * a label the spec does not have is a compile error.
 */
export type NodeOf<P> = (P extends { readonly node: infer N }
  ? N extends ProcessNode
    ? N
    : ProcessNode
  : ProcessNode) &
  (P extends { readonly '~inputs': infer I; readonly '~outputs': infer O }
    ? { readonly '~inputLinks': LinkedInputs<I>; readonly '~outputLinks': O }
    : unknown);

/**
 * The node recording a run of the process class `C` (`runGetNode`, `submit`, a child in a work chain's context),
 * with its inputs and outputs typed from the spec (aiida-core's `node.inputs.x` / `node.outputs.x`): declare context
 * entries as `ProcessNodeOf<typeof Child>` to read `await this.ctx.child.outputs.result` typed.
 */
export type ProcessNodeOf<C extends abstract new (...args: never[]) => unknown> = NodeOf<InstanceType<C>>;

/**
 * Puts the node of a child process (from `this.submit`) in the context under the key once it has terminated, whatever
 * its outcome (aiida's `assign_`; the default action of `ToContext`).
 */
export function assign_<P extends { readonly node: ProcessNode }>(
  child: P,
): ContextAwaitable<NodeOf<P>, 'assign'> {
  return plumpyAssign(child as never) as unknown as ContextAwaitable<NodeOf<P>, 'assign'>;
}

/** Appends the node of a child process to the list under the context key once it has terminated (aiida's `append_`). */
export function append_<P extends { readonly node: ProcessNode }>(
  child: P,
): ContextAwaitable<NodeOf<P>, 'append'> {
  return plumpyAppend(child as never) as unknown as ContextAwaitable<NodeOf<P>, 'append'>;
}

function isZero(code: unknown): boolean {
  return code === 0 || (code instanceof ExitCode && code.status === 0);
}

/**
 * Makes `return_(0)` and `return_(ExitCode())` in an outline plain `return_` (aiida ends the outline successfully for
 * them; a step returning 0 goes on instead, so the engine must tell them apart).
 */
export function normaliseReturns(instruction: Instruction): void {
  if (instruction instanceof Return) {
    if (isZero(instruction.exitCode)) (instruction as { exitCode: unknown }).exitCode = undefined;
  } else if (instruction instanceof Block) {
    for (const item of instruction.instructions) normaliseReturns(item);
  } else if (instruction instanceof If) {
    for (const conditional of instruction.conditionals) normaliseReturns(conditional.body);
  } else if (instruction instanceof While) {
    normaliseReturns(instruction.conditional.body);
  }
}
