import { ExitCode, isPlainObject, type ProcessSpec, type SpecTypes } from 'plumpy-ts';
import type { z } from 'zod';
import {
  InputValidationError,
  InvalidOperationError,
  ProcessFailedError,
  ValidationError,
} from '../../errors.js';
import { Data } from '../../orm/nodes/data/data.js';
import type { ProcessNode } from '../../orm/nodes/process/process.js';
import {
  CalcFunctionNode,
  WorkFunctionNode,
  type CalculationNode,
  type WorkflowNode,
} from '../../orm/nodes/process/process.js';
import { getManager } from '../manager.js';
import type { RunResult } from './process-runner.js';
import { METADATA_KEY, SINGLE_OUTPUT_LINKNAME } from './base-spec.js';
import { currentEngineProcess } from './instantiate.js';
import { moduleNameOf, callerLocation, type SourceLocation } from './process-type.js';
import { Process, recordDefinition } from './process.js';
import { anyData, nodeType, type NodeClassLike, type NodeSchema, type RawValueOf } from './ports.js';

/** How a process function declares an input or output: a node class, a zod schema, or either with options. */
export type PortDecl = NodeClassLike | z.ZodType;

/** An input declaration with options. */
export interface InputDeclOptions<T extends PortDecl = PortDecl> {
  readonly type: T;
  /** A value (or a function making one) used when the input is not given; the input is then optional. */
  readonly default?: unknown;
  /** False makes the input optional (default true). */
  readonly required?: boolean;
  readonly help?: string;
}

export type InputDecl = PortDecl | InputDeclOptions;

/** The schema of a declaration. */
export type DeclSchema<D> = D extends NodeClassLike
  ? NodeSchema<InstanceType<D>, RawValueOf<D>>
  : D extends z.ZodType
    ? D
    : D extends InputDeclOptions<infer T>
      ? DeclSchema<T>
      : never;
/** What a declared input accepts. */
export type DeclIn<D> = z.input<DeclSchema<D>>;
/** What the function receives for a declared input. */
export type DeclOut<D> = z.output<DeclSchema<D>>;

type IsOptional<D> = D extends { readonly default: unknown }
  ? true
  : D extends { readonly required: false }
    ? true
    : false;
type HasDefault<D> = D extends { readonly default: unknown } ? true : false;

/** The metadata a process function accepts (`label`, `description`, `call_link_label`, …). */
export interface FunctionMetadata {
  readonly label?: string;
  readonly description?: string;
  readonly store_provenance?: boolean;
  readonly call_link_label?: string;
  readonly disable_cache?: boolean;
}

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The variadic positional input of a process function (aiida's `*args`): labels `<name>_0`, `<name>_1`, …. */
export interface VariadicDecl<N extends string = string, D extends PortDecl = PortDecl> {
  readonly name: N;
  readonly type: D;
}

type VariadicIn<V> =
  V extends VariadicDecl<infer N, infer D> ? { readonly [K in N]?: readonly DeclIn<D>[] } : unknown;
type VariadicOut<V> =
  V extends VariadicDecl<infer N, infer D> ? { readonly [K in N]: DeclOut<D>[] } : unknown;
type DynamicIn<Dy> = [Dy] extends [undefined]
  ? unknown
  : Dy extends PortDecl
    ? { readonly [key: string]: unknown }
    : unknown;
type DynamicOut<Dy> = [Dy] extends [undefined]
  ? unknown
  : Dy extends PortDecl
    ? { readonly [key: string]: unknown }
    : unknown;

/** The inputs a process function is run with (keyword form): the declared ones, and `metadata`. */
export type FunctionInputs<I, V = undefined, Dy = undefined> = Simplify<
  { readonly [K in keyof I as IsOptional<I[K]> extends true ? never : K]: DeclIn<I[K]> } & {
    readonly [K in keyof I as IsOptional<I[K]> extends true ? K : never]?: DeclIn<I[K]>;
  } & { readonly metadata?: FunctionMetadata }
> &
  VariadicIn<V> &
  DynamicIn<Dy>;

/** What the implementation receives: the parsed inputs (nodes). */
export type FunctionArguments<I, V = undefined, Dy = undefined> = Simplify<
  {
    readonly [
      K in keyof I as IsOptional<I[K]> extends true ? (HasDefault<I[K]> extends true ? K : never) : K
    ]: DeclOut<I[K]>;
  } & {
    readonly [
      K in keyof I as IsOptional<I[K]> extends true ? (HasDefault<I[K]> extends true ? never : K) : never
    ]?: DeclOut<I[K]>;
  }
> &
  VariadicOut<V> &
  DynamicOut<Dy>;

/** Output declarations: one node type (output `result`), a mapping of them (namespaced outputs), or none (any data). */
export type OutputDecl =
  | PortDecl
  | { readonly [name: string]: PortDecl | { readonly type: PortDecl; readonly required?: boolean } }
  | undefined;

type OutputOfEntry<E> = E extends PortDecl
  ? DeclOut<E>
  : E extends { readonly type: infer T }
    ? DeclOut<T>
    : never;
type OptionalOutput<E> = E extends { readonly required: false } ? true : false;

/** What a process function's call resolves to. */
export type FunctionResult<O> = [O] extends [undefined]
  ? Data | { readonly [key: string]: unknown }
  : O extends PortDecl
    ? DeclOut<O>
    : Simplify<
        { readonly [K in keyof O as OptionalOutput<O[K]> extends true ? never : K]: OutputOfEntry<O[K]> } & {
          readonly [K in keyof O as OptionalOutput<O[K]> extends true ? K : never]?: OutputOfEntry<O[K]>;
        }
      >;

/** What the implementation may return: its result, an exit code, or nothing. */
export type FunctionReturn<O> = FunctionResult<O> | ExitCode | undefined | void;

/** Declaration of a process function. */
export interface ProcessFunctionOptions<
  I extends Readonly<Record<string, InputDecl>> = Readonly<Record<string, InputDecl>>,
  O extends OutputDecl = OutputDecl,
  A extends readonly (keyof I & string)[] = readonly (keyof I & string)[],
  V extends VariadicDecl | undefined = VariadicDecl | undefined,
  Dy extends PortDecl | undefined = PortDecl | undefined,
> {
  /** The function's name (the process label and last part of the process type); default the implementation's name. */
  readonly name?: string;
  /** The inputs, by name (`{x: Int, y: {type: Int, default: 1}}`). */
  readonly inputs?: I;
  /** The outputs: a node class for a single `result`, a mapping for namespaced outputs, nothing for any data. */
  readonly outputs?: O;
  /** The order of the inputs for positional calls (`fn(3, 4)`); without it the function is called with one object. */
  readonly args?: A;
  /** Extra positional arguments, linked as `<name>_0`, `<name>_1`, …. */
  readonly variadic?: V;
  /** Accept keyword inputs of this type under any other name (aiida's `**kwargs`). */
  readonly dynamic?: Dy;
  /** Help shown for the process. */
  readonly help?: string;
}

type PositionalArgs<I, A extends readonly unknown[], V> = [
  ...{
    [K in keyof A]: A[K] extends keyof I
      ? IsOptional<I[A[K]]> extends true
        ? DeclIn<I[A[K]]> | undefined
        : DeclIn<I[A[K]]>
      : never;
  },
  ...(V extends VariadicDecl<string, infer D> ? DeclIn<D>[] : []),
];

/** Call form of a process function: positional when `args` were declared, else one object of inputs. */
export type FunctionCall<I, O, A extends readonly unknown[] | undefined, V, Dy> = A extends readonly unknown[]
  ? (...args: PositionalArgs<I, A, V>) => Promise<FunctionResult<O>>
  : (inputs: FunctionInputs<I, V, Dy>) => Promise<FunctionResult<O>>;

/**
 * A process function (aiida's `@calcfunction`/`@workfunction`): call it and it runs as a process with provenance in
 * the current event loop — a child of the process calling it, if any — and resolves to its result. It rejects with
 * a `ProcessFailedError` when it finishes with a non-zero exit status, and with the error when it excepts; `run`,
 * `runGetNode` and `runGetPk` take the inputs as one object (with `metadata`) and report failures without throwing.
 */
export type ProcessFunction<In = never, R = unknown> = ((...args: never[]) => Promise<R>) & {
  readonly isProcessFunction: true;
  readonly processClass: typeof FunctionProcess;
  readonly nodeClass: typeof CalcFunctionNode | typeof WorkFunctionNode;
  /** Runs with the inputs as one object and resolves to the result. */
  run(inputs: In): Promise<R>;
  /** Runs and resolves to the result and the process node (a failed run is reported, not thrown). */
  runGetNode(inputs: In): Promise<RunResult<R | Readonly<Record<string, unknown>>>>;
  runGetPk(
    inputs: In,
  ): Promise<{ readonly result: R | Readonly<Record<string, unknown>>; readonly pk: number }>;
  spec(): ProcessSpec<SpecTypes>;
};

/** The implementation of a process function; `this` is the running process. */
export type FunctionImplementation<Args, Ret> = (this: FunctionProcess, inputs: Args) => Ret | Promise<Ret>;

interface FunctionDefinition {
  readonly name: string;
  readonly implementation: (this: FunctionProcess, inputs: Record<string, unknown>) => unknown;
  readonly location: SourceLocation | undefined;
  readonly variadic: string | undefined;
  readonly single: boolean;
  /** The source of the implementation as stored on every node (UTF-8, encoded once), and what the node records about it. */
  readonly sourceBytes: Uint8Array;
  readonly sourceAttributes: Readonly<Record<string, unknown>>;
  /** The node's `process_type`: `<module>.<name>`. */
  readonly processType: string;
}

const definitionsByClass = new WeakMap<object, FunctionDefinition>();

function schemaOf(decl: PortDecl): z.ZodType {
  if (typeof decl === 'function') return nodeType(decl);
  return decl;
}

function isDeclOptions(decl: unknown): decl is InputDeclOptions {
  return typeof decl === 'object' && decl !== null && 'type' in decl && !('safeParse' in decl);
}

/**
 * The base of the process classes made for process functions (aiida's `FunctionProcess`): never checkpointed, the
 * function's source recorded on the node, the return value turned into outputs.
 */
export class FunctionProcess extends Process {
  static override isAbstract(): boolean {
    return !definitionsByClass.has(this);
  }

  static override get persistable(): boolean {
    return false;
  }

  /** Spreads the variadic array (`{args: [a, b]}`) into `args_0`, `args_1`. */
  static override normaliseInputs(
    inputs: Readonly<Record<string, unknown>>,
  ): Readonly<Record<string, unknown>> {
    return expandVariadic(inputs, definitionsByClass.get(this)?.variadic);
  }

  static override buildProcessType(): string {
    const definition = definitionsByClass.get(this);
    return definition === undefined ? super.buildProcessType() : definition.processType;
  }

  static override buildProcessLabel(): string {
    return definitionsByClass.get(this)?.name ?? this.name;
  }

  static override defaultNodeLabel(): string {
    return definitionsByClass.get(this)?.name ?? '';
  }

  /** Stores the source of the function on the node (aiida's `store_source_info`). */
  static override async setupNode(node: ProcessNode): Promise<void> {
    const definition = definitionsByClass.get(this);
    if (definition === undefined) return;
    node.base.attributes.setMany(definition.sourceAttributes);
    // the same bytes for every call: written to the object store once, referenced by every node
    await node.repository.putSharedObject('source_file', definition.sourceBytes);
  }

  /** Runs the function with the inputs, and records its return value as outputs. */
  override async run(): Promise<unknown> {
    const definition = definitionsByClass.get(this.constructor);
    if (definition === undefined)
      throw new InvalidOperationError(`${this.constructor.name} wraps no function`);
    const inputs = { ...(this.inputs as Readonly<Record<string, unknown>>) };
    delete inputs[METADATA_KEY];
    if (definition.variadic !== undefined) {
      const prefix = `${definition.variadic}_`;
      const indexed = Object.keys(inputs)
        .filter((key) => key.startsWith(prefix) && /^\d+$/.test(key.slice(prefix.length)))
        .sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)));
      inputs[definition.variadic] = indexed.map((key) => inputs[key]);
      for (const key of indexed) delete inputs[key];
    }
    const result: unknown = await definition.implementation.call(this, inputs);
    if (result === undefined || result === null || result instanceof ExitCode) return result ?? undefined;
    if (result instanceof Data) {
      this.writeOutput(SINGLE_OUTPUT_LINKNAME, result);
    } else if (isPlainObject(result)) {
      for (const [name, value] of Object.entries(result)) this.writeOutput(name, value);
    } else {
      throw new ValidationError(
        `the function returned an output of unsupported type ${typeof result}: return a data node or a mapping of data nodes`,
      );
    }
    return undefined;
  }
}

function buildSpec(
  spec: ProcessSpec<SpecTypes>,
  options: ProcessFunctionOptions,
  name: string,
): ProcessSpec<SpecTypes> {
  for (const [port, decl] of Object.entries(options.inputs ?? {})) {
    if (isDeclOptions(decl)) {
      const hasDefault = decl.default !== undefined;
      spec.input(port, {
        validType: schemaOf(decl.type),
        ...(decl.help === undefined ? {} : { help: decl.help }),
        ...(hasDefault ? { default: decl.default as never } : { required: decl.required ?? true }),
      });
    } else {
      spec.input(port, { validType: schemaOf(decl) });
    }
  }
  spec.inputs.help = options.help;
  const label = spec.inputs.findPort('metadata.label');
  if (label !== undefined) (label as unknown as { default: unknown }).default = name;
  if (options.variadic !== undefined || options.dynamic !== undefined) {
    const dynamicType = options.dynamic ?? options.variadic?.type;
    spec.inputs.dynamic = true;
    spec.inputs.validType = dynamicType === undefined ? anyData : schemaOf(dynamicType);
  }
  const outputs = options.outputs;
  if (outputs === undefined) {
    spec.outputs.validType = anyData;
  } else if (typeof outputs === 'function' || 'safeParse' in outputs) {
    spec.output(SINGLE_OUTPUT_LINKNAME, { validType: schemaOf(outputs as PortDecl) });
  } else {
    for (const [port, decl] of Object.entries(outputs)) {
      if (isDeclOptions(decl))
        spec.output(port, { validType: schemaOf(decl.type), required: decl.required ?? true });
      else spec.output(port, { validType: schemaOf(decl as PortDecl) });
    }
  }
  return spec;
}

function makeFunction(
  nodeClass: typeof CalcFunctionNode | typeof WorkFunctionNode,
  options: ProcessFunctionOptions,
  implementation: (this: FunctionProcess, inputs: Record<string, unknown>) => unknown,
  location: SourceLocation | undefined,
): ProcessFunction<Record<string, unknown>, unknown> {
  const name = options.name ?? implementation.name;
  if (name === '' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new ValidationError(
      `a process function needs a name that is an identifier (got '${name}'): pass \`name\``,
    );
  }
  const variadic = options.variadic?.name;
  if (variadic !== undefined) {
    for (const port of Object.keys(options.inputs ?? {})) {
      if (new RegExp(`^${variadic}_\\d+$`).test(port)) {
        throw new ValidationError(
          `variadic arguments would get labels like \`${port}\` but this is already the name of an input: rename the input`,
        );
      }
    }
  }
  const Defined = FunctionProcess.define(
    (spec) => buildSpec(spec as unknown as ProcessSpec<SpecTypes>, options, name) as never,
  );
  recordDefinition(Defined, location);
  const cls = {
    [name]: class extends (Defined as unknown as typeof FunctionProcess) {
      static override get nodeClass(): typeof ProcessNode {
        return nodeClass;
      }
    },
  }[name]!;
  const single =
    options.outputs !== undefined &&
    (typeof options.outputs === 'function' || 'safeParse' in options.outputs);
  // what the nodes record about the source is the same for every call: worked out once
  const source = implementation.toString();
  const sourceAttributes = {
    function_name: name,
    function_namespace: moduleNameOf(location),
    ...(location === undefined ? {} : { function_starting_line_number: location.line }),
    function_number_of_lines: source.split('\n').length,
  };
  definitionsByClass.set(cls, {
    name,
    implementation,
    location,
    variadic,
    single,
    sourceBytes: Buffer.from(source, 'utf8'),
    sourceAttributes,
    processType: `${moduleNameOf(location)}.${name}`,
  });

  const positional = options.args;
  const toInputs = (args: readonly unknown[]): Record<string, unknown> => {
    if (positional === undefined) {
      if (args.length > 1) throw new InputValidationError(`${name}() takes its inputs as one object`);
      const given = args[0] ?? {};
      if (!isPlainObject(given)) throw new InputValidationError(`${name}() takes its inputs as one object`);
      return expandVariadic(given, variadic);
    }
    const inputs: Record<string, unknown> = {};
    if (args.length > positional.length && variadic === undefined) {
      throw new InputValidationError(
        `${name}() takes ${positional.length} positional arguments but ${args.length} were given`,
      );
    }
    positional.forEach((port, index) => {
      if (index < args.length && args[index] !== undefined) inputs[port] = args[index];
    });
    args.slice(positional.length).forEach((value, index) => {
      inputs[`${variadic!}_${index}`] = value;
    });
    return inputs;
  };

  const runGetNode = async (inputs: Record<string, unknown>): Promise<RunResult<unknown>> => {
    const runner = currentEngineProcess()?.runner ?? (await getManager().getRunner());
    return runner.runGetNode(fn, inputs);
  };
  const resultOf = async (inputs: Record<string, unknown>): Promise<unknown> => {
    const { result, node } = await runGetNode(inputs);
    if (node.isFailed) {
      throw new ProcessFailedError(
        `${name}<${String(node.pk)}> failed with exit status ${String(node.exitStatus)}${node.exitMessage === null ? '' : `: ${node.exitMessage}`}`,
        { pk: node.pk, exitStatus: node.exitStatus ?? 0, exitMessage: node.exitMessage },
      );
    }
    return result;
  };
  const fn = Object.assign((...args: unknown[]) => resultOf(toInputs(args)), {
    isProcessFunction: true as const,
    processClass: cls,
    nodeClass,
    run: (inputs: Record<string, unknown>) => resultOf(inputs),
    runGetNode,
    runGetPk: async (inputs: Record<string, unknown>) => {
      const { result, node } = await runGetNode(inputs);
      if (node.pk === null)
        throw new InvalidOperationError('the process did not store provenance: it has no pk');
      return { result, pk: node.pk };
    },
    spec: () => cls.spec(),
  });
  Object.defineProperty(fn, 'name', { value: name });
  return fn;
}

function expandVariadic(
  inputs: Readonly<Record<string, unknown>>,
  variadic: string | undefined,
): Record<string, unknown> {
  const out = { ...inputs };
  if (variadic === undefined) return out;
  const values = out[variadic];
  if (values === undefined) return out;
  if (!Array.isArray(values))
    throw new InputValidationError(`the variadic input \`${variadic}\` must be an array`);
  delete out[variadic];
  values.forEach((value: unknown, index) => {
    const label = `${variadic}_${index}`;
    if (label in out) {
      throw new ValidationError(
        `variadic argument with index \`${index}\` would get the label \`${label}\` but this is already in use by another input with the exact same name`,
      );
    }
    out[label] = value;
  });
  return out;
}

type Impl<I, O, V, Dy> = FunctionImplementation<FunctionArguments<I, V, Dy>, FunctionReturn<O>>;
// The typed call signature comes last, so that `Parameters<typeof fn>` reads it.
type Made<I, O, A, V, Dy> = ProcessFunction<FunctionInputs<I, V, Dy>, FunctionResult<O>> &
  FunctionCall<I, O, A extends readonly unknown[] ? A : undefined, V, Dy>;

/**
 * Makes a calcfunction (aiida's `@calcfunction`): a process function whose outputs are new data it creates, linked
 * with `create` links, recorded as a `CalcFunctionNode`. It may not call other processes. Inputs and outputs are
 * declared with node classes or zod schemas, which type the call and the implementation's argument:
 *
 * ```ts
 * const add = calcfunction({ inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] },
 *   function add({ x, y }) { return new Int(x.value + y.value); });
 * await add(1, 2); // Int(3)
 * ```
 */
export function calcfunction<
  const I extends Readonly<Record<string, InputDecl>> = Record<never, never>,
  const O extends OutputDecl = undefined,
  const A extends readonly (keyof I & string)[] | undefined = undefined,
  const V extends VariadicDecl | undefined = undefined,
  const Dy extends PortDecl | undefined = undefined,
>(
  options: ProcessFunctionOptions<I, O, NonNullable<A>, V, Dy> & { readonly args?: A },
  implementation: Impl<I, O, V, Dy>,
): Made<I, O, A, V, Dy> {
  return makeFunction(
    CalcFunctionNode,
    options,
    implementation as never,
    callerLocation(),
  ) as unknown as Made<I, O, A, V, Dy>;
}

/**
 * Makes a workfunction (aiida's `@workfunction`): a process function that calls others and returns data they made
 * (`return` links; returning data it made itself is refused, "use a calcfunction"), recorded as a
 * `WorkFunctionNode`. Declared like {@link calcfunction}.
 */
export function workfunction<
  const I extends Readonly<Record<string, InputDecl>> = Record<never, never>,
  const O extends OutputDecl = undefined,
  const A extends readonly (keyof I & string)[] | undefined = undefined,
  const V extends VariadicDecl | undefined = undefined,
  const Dy extends PortDecl | undefined = undefined,
>(
  options: ProcessFunctionOptions<I, O, NonNullable<A>, V, Dy> & { readonly args?: A },
  implementation: Impl<I, O, V, Dy>,
): Made<I, O, A, V, Dy> {
  return makeFunction(
    WorkFunctionNode,
    options,
    implementation as never,
    callerLocation(),
  ) as unknown as Made<I, O, A, V, Dy>;
}

/** Whether `value` is a process function. */
export function isProcessFunction(value: unknown): value is ProcessFunction {
  return typeof value === 'function' && (value as Partial<ProcessFunction>).isProcessFunction === true;
}

/** The node classes process functions record themselves with. */
export type ProcessFunctionNode = CalculationNode | WorkflowNode;
