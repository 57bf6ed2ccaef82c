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
import type { ProcessNode } from '../../../orm/nodes/process/process.js';

/** The node a child process put in the context resolves to. */
export type NodeOf<P> = P extends { readonly node: infer N }
  ? N extends ProcessNode
    ? N
    : ProcessNode
  : ProcessNode;

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
