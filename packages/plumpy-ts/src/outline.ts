import { z } from 'zod';
import { OutlineError } from './errors.js';
import type { ExitCode } from './exit-code.js';

/** Saved position of a stepper (plumpy's keys: `_fn`, `_pos`, nested `stepper_state`). */
export interface StepperState {
  readonly _fn?: string | undefined;
  readonly _pos?: number | undefined;
  readonly stepper_state?: StepperState | undefined;
}

export const stepperStateSchema: z.ZodType<StepperState> = z.lazy(() =>
  z.object({
    _fn: z.string().optional(),
    _pos: z.number().int().nonnegative().optional(),
    stepper_state: stepperStateSchema.optional(),
  }),
);

/** What steppers need from their work chain. */
export interface OutlineHost {
  /** Calls the step method `name`; returns what it returns. */
  callStep(name: string): unknown;
  /** Calls the predicate method `name`; returns its value as a boolean (warning if it is not boolean-like). */
  testPredicate(name: string): boolean;
}

/** Walks an outline one step at a time; its position is saved in checkpoints. */
export interface Stepper {
  /** Runs the next step: `[finished, value the step returned]`. */
  step(): [boolean, unknown];
  toJSON(): StepperState;
  toString(): string;
}

/** Thrown through the steppers by `return_` to end the outline. */
export class PropagateReturn extends Error {
  readonly exitCode: number | ExitCode | undefined;

  constructor(exitCode: number | ExitCode | undefined) {
    super('return_');
    this.name = 'PropagateReturn';
    this.exitCode = exitCode;
  }
}

/** A method of the work chain, by name or as the method itself. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type MethodRef = string | ((...args: any[]) => unknown);

function refName(ref: MethodRef): string {
  if (typeof ref === 'string') return ref;
  if (typeof ref === 'function')
    return ref.name.startsWith('bound ') ? ref.name.slice('bound '.length) : ref.name;
  throw new OutlineError(
    `a step must be a method or a method name, got ${ref === null ? 'null' : typeof ref}`,
  );
}

/** An element of an outline. */
export abstract class Instruction<W = unknown> {
  /** Phantom: the work chain class this instruction is typed for. */
  declare readonly '~workChainType'?: W;
  abstract createStepper(host: OutlineHost): Stepper;
  /** Recreates a stepper from its saved state; throws {@link OutlineError} if the state does not fit. */
  abstract recreateStepper(saved: StepperState, host: OutlineHost): Stepper;
  abstract getDescription(): unknown;
  /** Checks every method named in the instruction against the work chain's prototype. */
  abstract check(prototype: object, className: string): void;
}

/** Names of the methods of the work chain base class: a step or predicate with one of them would shadow it. */
let reservedNames: ReadonlySet<string> = new Set();

/** Sets the names {@link Instruction.check} refuses (the methods of `WorkChain`, set by it). */
export function setReservedStepNames(names: Iterable<string>): void {
  reservedNames = new Set(names);
}

function checkMethod(prototype: object, className: string, name: string, what: 'step' | 'predicate'): void {
  if (reservedNames.has(name))
    throw new OutlineError(
      `'${name}' is a method of WorkChain and cannot be a step or predicate of ${className}`,
    );
  const value = (prototype as Record<string, unknown>)[name];
  if (typeof value !== 'function')
    throw new OutlineError(`the ${what} '${name}' is not a method of ${className}`);
  if (value.length !== 0)
    throw new OutlineError(
      `the ${what} '${name}' of ${className} must take no arguments (it takes ${value.length})`,
    );
}

/** A call of one step method. */
export class FunctionCall<W = unknown> extends Instruction<W> {
  readonly name: string;

  constructor(ref: MethodRef) {
    super();
    this.name = refName(ref);
    if (this.name === '') throw new OutlineError('a step must be a named method of the work chain');
  }

  createStepper(host: OutlineHost): Stepper {
    return new FunctionStepper(this.name, host);
  }

  recreateStepper(saved: StepperState, host: OutlineHost): Stepper {
    if (saved._fn !== undefined && saved._fn !== this.name) {
      throw new OutlineError(`the saved step '${saved._fn}' is not the outline's step '${this.name}'`);
    }
    return new FunctionStepper(this.name, host);
  }

  getDescription(): string {
    return this.name;
  }

  check(prototype: object, className: string): void {
    checkMethod(prototype, className, this.name, 'step');
  }
}

class FunctionStepper implements Stepper {
  readonly #name: string;
  readonly #host: OutlineHost;

  constructor(name: string, host: OutlineHost) {
    this.#name = name;
    this.#host = host;
  }

  step(): [boolean, unknown] {
    return [true, this.#host.callStep(this.#name)];
  }

  toJSON(): StepperState {
    return { _fn: this.#name };
  }

  toString(): string {
    return this.#name;
  }
}

/** A sequence of instructions. */
export class Block<W = unknown> extends Instruction<W> {
  readonly instructions: readonly Instruction<W>[];

  constructor(items: readonly OutlineItem<W>[]) {
    super();
    this.instructions = items.map((item) => toInstruction(item));
  }

  createStepper(host: OutlineHost): Stepper {
    return new BlockStepper(this, host, 0, undefined);
  }

  recreateStepper(saved: StepperState, host: OutlineHost): Stepper {
    const pos = saved._pos ?? 0;
    if (pos > this.instructions.length)
      throw new OutlineError(
        `the saved block position ${pos} is past the block's ${this.instructions.length} instructions`,
      );
    const instruction = this.instructions[pos];
    const child =
      saved.stepper_state === undefined || instruction === undefined
        ? undefined
        : instruction.recreateStepper(saved.stepper_state, host);
    return new BlockStepper(this, host, pos, child);
  }

  getDescription(): unknown[] {
    return this.instructions.map((i) => i.getDescription());
  }

  check(prototype: object, className: string): void {
    for (const instruction of this.instructions) instruction.check(prototype, className);
  }
}

class BlockStepper implements Stepper {
  readonly #block: Block;
  readonly #host: OutlineHost;
  #pos: number;
  #child: Stepper | undefined;

  constructor(block: Block<unknown>, host: OutlineHost, pos: number, child: Stepper | undefined) {
    this.#block = block;
    this.#host = host;
    this.#pos = pos;
    const instruction = block.instructions[pos];
    this.#child = child ?? instruction?.createStepper(host);
  }

  #finished(): boolean {
    return this.#pos >= this.#block.instructions.length;
  }

  step(): [boolean, unknown] {
    const child = this.#child;
    if (this.#finished() || child === undefined) return [true, undefined];
    const [finished, value] = child.step();
    if (finished) {
      this.#pos += 1;
      this.#child = this.#block.instructions[this.#pos]?.createStepper(this.#host);
    }
    return [this.#finished(), value];
  }

  toJSON(): StepperState {
    return this.#child === undefined
      ? { _pos: this.#pos }
      : { _pos: this.#pos, stepper_state: this.#child.toJSON() };
  }

  toString(): string {
    return `${this.#pos}:${this.#child === undefined ? 'None' : this.#child.toString()}`;
  }
}

/** A predicate with the block to run when it holds (a branch of `if_`, or the loop of `while_`). */
export class Conditional<W = unknown> {
  readonly predicate: string;
  readonly label: string;
  #body: Block<W> | undefined;

  constructor(predicate: MethodRef | (() => true), label: string) {
    this.predicate =
      typeof predicate === 'function' && predicate === ALWAYS ? '' : refName(predicate as MethodRef);
    if (label !== 'else_' && this.predicate === '')
      throw new OutlineError(`the predicate of ${label} must be a named method`);
    this.label = label;
  }

  get body(): Block<W> {
    if (this.#body === undefined) throw new OutlineError(`the body of ${this.toString()} was never given`);
    return this.#body;
  }

  get hasBody(): boolean {
    return this.#body !== undefined;
  }

  setBody(items: readonly OutlineItem<W>[]): void {
    if (this.#body !== undefined) throw new OutlineError(`the body of ${this.toString()} is already set`);
    this.#body = new Block(items);
  }

  isTrue(host: OutlineHost): boolean {
    return this.predicate === '' ? true : host.testPredicate(this.predicate);
  }

  toString(): string {
    return `${this.label}(${this.predicate})`;
  }
}

const ALWAYS = (): true => true;

/** `if_(p)(...).elif_(q)(...).else_(...)`. */
export class If<W = unknown> extends Instruction<W> {
  readonly conditionals: Conditional<W>[] = [];
  #sealed = false;

  constructor(predicate: MethodRef) {
    super();
    this.conditionals.push(new Conditional<W>(predicate, 'if_'));
  }

  /** Adds an `elif_` branch; call the result with its body. */
  elif_(predicate: PredicateRef<W>): (...body: OutlineItem<W>[]) => If<W> {
    if (this.#sealed) throw new OutlineError('no elif_ can follow an else_');
    const last = this.conditionals[this.conditionals.length - 1];
    if (last !== undefined && !last.hasBody)
      throw new OutlineError(`${last.toString()} has no body before elif_`);
    const conditional = new Conditional<W>(predicate as MethodRef, 'elif_');
    this.conditionals.push(conditional);
    return (...body) => {
      conditional.setBody(body);
      return this;
    };
  }

  /** Adds the `else_` branch, which ends the `if_`. */
  else_(...body: OutlineItem<W>[]): If<W> {
    if (this.#sealed) throw new OutlineError('an if_ can have only one else_');
    const conditional = new Conditional<W>(ALWAYS, 'else_');
    conditional.setBody(body);
    this.conditionals.push(conditional);
    this.#sealed = true;
    return this;
  }

  createStepper(host: OutlineHost): Stepper {
    return new IfStepper(this as If<unknown>, host, 0, undefined);
  }

  recreateStepper(saved: StepperState, host: OutlineHost): Stepper {
    const pos = saved._pos ?? 0;
    if (pos > this.conditionals.length)
      throw new OutlineError(
        `the saved branch ${pos} is past the if_'s ${this.conditionals.length} branches`,
      );
    const conditional = this.conditionals[pos];
    const child =
      saved.stepper_state === undefined || conditional === undefined
        ? undefined
        : conditional.body.recreateStepper(saved.stepper_state, host);
    return new IfStepper(this as If<unknown>, host, pos, child);
  }

  getDescription(): Record<string, unknown> {
    const description: Record<string, unknown> = {};
    for (const conditional of this.conditionals) {
      const key =
        conditional.label === 'else_'
          ? 'else'
          : `${conditional.label === 'if_' ? 'if' : 'elif'}(${conditional.predicate})`;
      description[key] = conditional.body.getDescription();
    }
    return description;
  }

  check(prototype: object, className: string): void {
    for (const conditional of this.conditionals) {
      if (conditional.predicate !== '') checkMethod(prototype, className, conditional.predicate, 'predicate');
      conditional.body.check(prototype, className);
    }
  }
}

class IfStepper implements Stepper {
  readonly #instruction: If;
  readonly #host: OutlineHost;
  #pos: number;
  #child: Stepper | undefined;

  constructor(instruction: If<unknown>, host: OutlineHost, pos: number, child: Stepper | undefined) {
    this.#instruction = instruction;
    this.#host = host;
    this.#pos = pos;
    this.#child = child;
  }

  #finished(): boolean {
    return this.#pos >= this.#instruction.conditionals.length;
  }

  step(): [boolean, unknown] {
    if (this.#finished()) return [true, undefined];
    if (this.#child === undefined) {
      for (const conditional of this.#instruction.conditionals) {
        if (conditional.isTrue(this.#host)) break;
        this.#pos += 1;
      }
      if (this.#finished()) return [true, undefined];
      this.#child = (this.#instruction.conditionals[this.#pos] as Conditional).body.createStepper(this.#host);
    }
    const [finished, value] = this.#child.step();
    if (finished) {
      this.#pos = this.#instruction.conditionals.length;
      this.#child = undefined;
    }
    return [this.#finished(), value];
  }

  toJSON(): StepperState {
    return this.#child === undefined
      ? { _pos: this.#pos }
      : { _pos: this.#pos, stepper_state: this.#child.toJSON() };
  }

  toString(): string {
    const conditional = this.#instruction.conditionals[this.#pos];
    const head = conditional === undefined ? 'if_(<done>)' : conditional.toString();
    return this.#child === undefined ? head : `${head}(${this.#child.toString()})`;
  }
}

/** `while_(p)(...)`. */
export class While<W = unknown> extends Instruction<W> {
  readonly conditional: Conditional<W>;

  constructor(predicate: MethodRef) {
    super();
    this.conditional = new Conditional<W>(predicate, 'while_');
  }

  createStepper(host: OutlineHost): Stepper {
    return new WhileStepper(this as While<unknown>, host, undefined);
  }

  recreateStepper(saved: StepperState, host: OutlineHost): Stepper {
    const child =
      saved.stepper_state === undefined
        ? undefined
        : this.conditional.body.recreateStepper(saved.stepper_state, host);
    return new WhileStepper(this as While<unknown>, host, child);
  }

  getDescription(): Record<string, unknown> {
    return { [`while(${this.conditional.predicate})`]: this.conditional.body.getDescription() };
  }

  check(prototype: object, className: string): void {
    checkMethod(prototype, className, this.conditional.predicate, 'predicate');
    this.conditional.body.check(prototype, className);
  }
}

class WhileStepper implements Stepper {
  readonly #instruction: While;
  readonly #host: OutlineHost;
  #child: Stepper | undefined;

  constructor(instruction: While<unknown>, host: OutlineHost, child: Stepper | undefined) {
    this.#instruction = instruction;
    this.#host = host;
    this.#child = child;
  }

  step(): [boolean, unknown] {
    if (this.#child === undefined) {
      if (!this.#instruction.conditional.isTrue(this.#host)) return [true, undefined];
      this.#child = this.#instruction.conditional.body.createStepper(this.#host);
    }
    const [finished, value] = this.#child.step();
    if (finished) this.#child = undefined;
    return [false, value];
  }

  toJSON(): StepperState {
    return this.#child === undefined ? {} : { stepper_state: this.#child.toJSON() };
  }

  toString(): string {
    const head = this.#instruction.conditional.toString();
    return this.#child === undefined ? head : `${head}(${this.#child.toString()})`;
  }
}

/** Ends the outline at once, optionally with an exit code (`return_` / `return_(code)`). */
export class Return<W = unknown> extends Instruction<W> {
  readonly exitCode: number | ExitCode | undefined;

  constructor(exitCode?: number | ExitCode) {
    super();
    this.exitCode = exitCode;
  }

  createStepper(): Stepper {
    const exitCode = this.exitCode;
    return {
      step(): [boolean, unknown] {
        throw new PropagateReturn(exitCode);
      },
      toJSON: () => ({}),
      toString: () => 'return_',
    };
  }

  recreateStepper(): Stepper {
    return this.createStepper();
  }

  getDescription(): string {
    return 'Return from the outline immediately';
  }

  check(): void {}
}

// ---- the DSL -----------------------------------------------------------------------------------------

/** Names of the public step methods of `W` (methods without parameters, not those of `WorkChain` itself). */
export type StepName<W> = {
  [K in keyof W]-?: K extends `~${string}` | WorkChainReservedName
    ? never
    : W[K] extends () => unknown
      ? K
      : never;
}[keyof W] &
  string;

/** Names of the public predicate methods of `W` (returning a boolean). */
export type PredicateName<W> = {
  [K in keyof W]-?: K extends `~${string}` | WorkChainReservedName
    ? never
    : W[K] extends () => boolean | null | undefined
      ? K
      : never;
}[keyof W] &
  string;

/** Public names of `WorkChain` that are not steps (kept here to avoid a cycle). */
export type WorkChainReservedName =
  | 'run'
  | 'doStep'
  | 'execute'
  | 'step'
  | 'stepUntilTerminated'
  | 'pause'
  | 'play'
  | 'kill'
  | 'resume'
  | 'fail'
  | 'close'
  | 'save'
  | 'ready'
  | 'future'
  | 'result'
  | 'successful'
  | 'killed'
  | 'killedMsg'
  | 'exception'
  | 'hasTerminated'
  | 'getStatusInfo'
  | 'toString'
  | 'spec'
  | 'callSoon'
  | 'launch'
  | 'report'
  | 'addCleanup'
  | 'toContext'
  | 'exposedInputs'
  | 'setStatus';

/** A step of `W`: a method name (checked by the compiler), or the method itself. */

export type StepRefOf<W> = [unknown] extends [W] ? MethodRef : StepName<W> | ((this: W) => unknown);
/** A predicate of `W`. */
export type PredicateRef<W> = [unknown] extends [W] ? MethodRef : PredicateName<W> | ((this: W) => boolean);

/** The `return_` instruction (also callable with an exit code). */
export interface ReturnInstruction {
  (exitCode: number | ExitCode): Return;
  readonly '~return': true;
}

/** One element of an outline. */
export type OutlineItem<W = unknown> =
  StepRefOf<W> | Instruction<W> | Instruction<unknown> | ReturnInstruction;

const BARE_RETURN = new Return();

/** `return_` ends the outline; `return_(code)` ends it with an exit code (a number or an {@link ExitCode}). */
export const return_: ReturnInstruction = Object.assign(
  (exitCode: number | ExitCode) => new Return(exitCode),
  { '~return': true as const },
);

/**
 * Runs the body when the predicate holds; chain `.elif_(q)(...)` and `.else_(...)`. Names are checked when
 * the outline is set; for compile-time checking use the callback form of `WorkChain.outline`.
 */
export function if_(predicate: MethodRef): (...body: OutlineItem[]) => If {
  const instruction = new If(predicate);
  return (...body) => {
    (instruction.conditionals[0] as Conditional).setBody(body);
    return instruction;
  };
}

/** Runs the body while the predicate holds. */
export function while_(predicate: MethodRef): (...body: OutlineItem[]) => While {
  const instruction = new While(predicate);
  return (...body) => {
    instruction.conditional.setBody(body);
    return instruction;
  };
}

/** The DSL typed for one work chain class (handed to the callback form of `WorkChain.outline`). */
export interface OutlineDsl<W> {
  if_(predicate: PredicateRef<W>): (...body: OutlineItem<W>[]) => If<W>;
  while_(predicate: PredicateRef<W>): (...body: OutlineItem<W>[]) => While<W>;
  readonly return_: ReturnInstruction;
}

/** The DSL for the callback form of `WorkChain.outline` (the same functions, typed there for the class). */
export const outlineDsl: OutlineDsl<unknown> = { if_, while_, return_ };

/** Turns an outline item into an instruction; anything else is an {@link OutlineError}. */
export function toInstruction<W>(item: OutlineItem<W>): Instruction<W> {
  if (item instanceof Instruction) return item as Instruction<W>;
  if (item === return_) return BARE_RETURN as Return<W>;
  if (typeof item === 'string' || typeof item === 'function') return new FunctionCall<W>(item as MethodRef);
  throw new OutlineError(
    `an outline item must be a step, if_, while_ or return_, got ${item === null ? 'null' : typeof item}`,
  );
}
