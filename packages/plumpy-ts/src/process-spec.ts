import type { z } from 'zod';
import { SpecError } from './errors.js';
import { ExitCodes, type ExitCodeOptions } from './exit-code.js';
import {
  InputPort,
  NAMESPACE_SEPARATOR,
  OutputPort,
  PortNamespace,
  type InputPortOptions,
  type PortDefault,
  type PortNamespaceOptions,
  type PortOptions,
  type Validator,
} from './ports.js';
import type {
  ConfigureNamespace,
  EmptySpec,
  Exposed,
  MergeNamespaces,
  NamespaceAt,
  NamespaceDesc,
  NamespaceIn,
  PortDesc,
  SetAt,
  SpecOf,
  SpecTypes,
} from './spec-types.js';

type Schema = z.ZodType;

/** Options of {@link ProcessSpec.input}. */
export interface InputOptions<S extends Schema, R extends boolean, D> {
  /** The values accepted (a zod schema); the process sees the schema's output. */
  readonly validType?: S;
  readonly help?: string;
  /** Default true; a port with a default is never required. */
  readonly required?: R;
  /** A value, or a function computing one each time a process is made. */
  readonly default?: D;
  readonly validator?: Validator<z.output<S>, InputPort>;
}

/** Options of {@link ProcessSpec.output}. */
export interface OutputOptions<S extends Schema, R extends boolean> {
  readonly validType?: S;
  readonly help?: string;
  readonly required?: R;
  readonly validator?: Validator<z.output<S>, OutputPort>;
}

/** Options of {@link ProcessSpec.inputNamespace} and friends. */
export interface NamespaceOptions<S extends Schema | undefined, Dyn extends boolean, R extends boolean> {
  readonly help?: string;
  readonly required?: R;
  /** Accept values under names without a port. */
  readonly dynamic?: Dyn;
  /** The type of values under names without a port (makes the namespace dynamic). */
  readonly validType?: S;
  readonly validator?: Validator<Readonly<Record<string, unknown>>, PortNamespace>;
  readonly populateDefaults?: boolean;
  readonly default?: unknown;
}

/** Options of {@link ProcessSpec.exposeInputs}/{@link ProcessSpec.exposeOutputs}. */
export interface ExposeOptions<N extends string, I extends string, E extends string> {
  /** Put the exposed ports in this (dotted) namespace instead of the top level. */
  readonly namespace?: N;
  /** Only these ports (dotted names reach into namespaces). Exclusive with `exclude`. */
  readonly include?: readonly I[];
  /** All ports but these. Exclusive with `include`. */
  readonly exclude?: readonly E[];
  /** Override properties of the namespace the ports are exposed in. */
  readonly namespaceOptions?: PortNamespaceOptions;
}

type InputDesc<S extends Schema, R extends boolean, D> = PortDesc<
  z.input<S>,
  z.output<S>,
  [D] extends [undefined] ? R : false,
  [D] extends [undefined] ? false : true
>;
type DynIn<S, Dyn> = S extends Schema ? z.input<S> : Dyn extends true ? unknown : never;
type DynOut<S, Dyn> = S extends Schema ? z.output<S> : Dyn extends true ? unknown : never;
type NsDesc<S, Dyn, R extends boolean> = NamespaceDesc<
  Record<never, never>,
  DynIn<S, Dyn>,
  DynOut<S, Dyn>,
  R
>;

/**
 * The context type after declaring `C` on top of `Old`: `C` alone when `Old` is still the untyped context of an
 * empty spec, else both (a subclass adds to its parent's context; a field declared again takes the new type).
 */
export type MergeContext<Old, C> = string extends keyof Old
  ? C
  : { [K in keyof Old as K extends keyof C ? never : K]: Old[K] } & C extends infer X
    ? { [K in keyof X]: X[K] }
    : never;

type With<T extends SpecTypes, K extends keyof SpecTypes, V> = Omit<T, K> & {
  readonly [P in K]: V;
} extends infer X extends SpecTypes
  ? { [P in keyof X]: X[P] }
  : never;

/** Anything with a spec: a process class. */
export interface HasSpec {
  spec(): ProcessSpec<SpecTypes>;
}

/** A namespace → process class → names of the ports exposed from it (plumpy's `_exposed_inputs`). */
export type ExposedMemory = Map<string | null, Map<HasSpec, string[]>>;

/**
 * The specification of a process: its input and output port namespaces, exit codes and (for work chains)
 * outline. Builder methods return the spec itself with its type grown by the new port, so a chain of calls
 * in `Process.define(spec => spec.input(...).output(...))` types the process's inputs and outputs. Once a
 * process of the class exists the spec is sealed and cannot change.
 */
export class ProcessSpec<T extends SpecTypes = EmptySpec> {
  /** The name of the input namespace, used as the first part of input validation paths. */
  static readonly NAME_INPUTS_PORT_NAMESPACE = 'inputs';
  static readonly NAME_OUTPUTS_PORT_NAMESPACE = 'outputs';

  /** Phantom: the type-level description of this spec. */
  declare readonly types: T;
  readonly ports: PortNamespace;
  readonly exitCodes: ExitCodes<T['exitCodes']>;
  readonly exposedInputs: ExposedMemory = new Map();
  readonly exposedOutputs: ExposedMemory = new Map();
  /** The work chain outline, when this is a work chain's spec (set by `WorkChain.outline`). */
  outline: { getDescription(): unknown } | undefined;
  /** The factories of the context's initial values, in the order declared (see `context(defaults)`). */
  readonly contextDefaults: (() => object)[] = [];
  #sealed = false;

  constructor() {
    this.ports = this.makeNamespace('', {});
    this.ports.set(
      ProcessSpec.NAME_INPUTS_PORT_NAMESPACE,
      this.makeNamespace(ProcessSpec.NAME_INPUTS_PORT_NAMESPACE, {}),
    );
    this.ports.set(
      ProcessSpec.NAME_OUTPUTS_PORT_NAMESPACE,
      this.makeNamespace(ProcessSpec.NAME_OUTPUTS_PORT_NAMESPACE, {}),
    );
    this.exitCodes = new ExitCodes();
  }

  /**
   * Makes the ports of `input` (override in a subclass to use another port class). Called from the
   * constructor of the spec too: do not rely on the subclass's fields.
   */
  protected makeInputPort(name: string, options: InputPortOptions): InputPort {
    return new InputPort(name, options);
  }

  /** Makes the ports of `output`. */
  protected makeOutputPort(name: string, options: PortOptions): OutputPort {
    return new OutputPort(name, options);
  }

  /** Makes the namespaces of `inputNamespace`/`outputNamespace`, and the top-level ones. */
  protected makeNamespace(name: string, options: PortNamespaceOptions): PortNamespace {
    return new PortNamespace(name, options);
  }

  get namespaceSeparator(): string {
    return NAMESPACE_SEPARATOR;
  }

  /** The input port namespace. Changing it directly works, but does not change the spec's types. */
  get inputs(): PortNamespace {
    return this.ports.get(ProcessSpec.NAME_INPUTS_PORT_NAMESPACE) as PortNamespace;
  }

  /** The output port namespace. */
  get outputs(): PortNamespace {
    return this.ports.get(ProcessSpec.NAME_OUTPUTS_PORT_NAMESPACE) as PortNamespace;
  }

  get sealed(): boolean {
    return this.#sealed;
  }

  /** Forbids any further change. */
  seal(): void {
    this.#sealed = true;
  }

  #ensureOpen(what: string): void {
    if (this.#sealed) throw new SpecError(`cannot ${what}: the spec is sealed`);
  }

  #place(
    root: PortNamespace,
    name: string,
    make: (portName: string) => InputPort | OutputPort | PortNamespace,
  ): void {
    const parts = name.split(NAMESPACE_SEPARATOR);
    const portName = parts.pop() as string;
    const namespace = parts.length > 0 ? root.createPortNamespace(parts.join(NAMESPACE_SEPARATOR)) : root;
    namespace.set(portName, make(portName));
  }

  /** Adds an input port; a dotted name makes the intermediate namespaces. */
  input<
    const N extends string,
    S extends Schema = z.ZodType<unknown>,
    const R extends boolean = true,
    const D extends PortDefault<z.input<S>> | undefined = undefined,
  >(
    name: N,
    options: InputOptions<S, R, D> = {},
  ): ProcessSpec<With<T, 'inputs', SetAt<T['inputs'], N, InputDesc<S, R, D>>>> {
    this.#ensureOpen(`add the input '${name}'`);
    this.#place(this.inputs, name, (portName) => this.makeInputPort(portName, options));
    return this as never;
  }

  /** Adds an output port; a dotted name makes the intermediate namespaces. */
  output<const N extends string, S extends Schema = z.ZodType<unknown>, const R extends boolean = true>(
    name: N,
    options: OutputOptions<S, R> = {},
  ): ProcessSpec<With<T, 'outputs', SetAt<T['outputs'], N, PortDesc<z.input<S>, z.output<S>, R, false>>>> {
    this.#ensureOpen(`add the output '${name}'`);
    this.#place(this.outputs, name, (portName) => this.makeOutputPort(portName, options));
    return this as never;
  }

  /** Adds (or replaces) an input namespace; a dotted name makes the intermediate namespaces. */
  inputNamespace<
    const N extends string,
    S extends Schema | undefined = undefined,
    const Dyn extends boolean = false,
    const R extends boolean = true,
  >(
    name: N,
    options: NamespaceOptions<S, Dyn, R> = {},
  ): ProcessSpec<With<T, 'inputs', SetAt<T['inputs'], N, NsDesc<S, Dyn, R>>>> {
    this.#ensureOpen(`add the input namespace '${name}'`);
    this.#place(this.inputs, name, (portName) => this.makeNamespace(portName, options));
    return this as never;
  }

  /** Adds (or replaces) an output namespace; a dotted name makes the intermediate namespaces. */
  outputNamespace<
    const N extends string,
    S extends Schema | undefined = undefined,
    const Dyn extends boolean = false,
    const R extends boolean = true,
  >(
    name: N,
    options: NamespaceOptions<S, Dyn, R> = {},
  ): ProcessSpec<With<T, 'outputs', SetAt<T['outputs'], N, NsDesc<S, Dyn, R>>>> {
    this.#ensureOpen(`add the output namespace '${name}'`);
    this.#place(this.outputs, name, (portName) => this.makeNamespace(portName, options));
    return this as never;
  }

  /** Sets properties of the top-level input namespace (plumpy's `spec.inputs.dynamic = True` and friends). */
  configureInputs<
    S extends Schema | undefined = undefined,
    const Dyn extends boolean = false,
    const R extends boolean = true,
  >(
    options: NamespaceOptions<S, Dyn, R>,
  ): ProcessSpec<With<T, 'inputs', ConfigureNamespace<T['inputs'], DynIn<S, Dyn>, DynOut<S, Dyn>, R>>> {
    this.#ensureOpen('configure the inputs');
    configure(this.inputs, options);
    return this as never;
  }

  /** Sets properties of the top-level output namespace. */
  configureOutputs<
    S extends Schema | undefined = undefined,
    const Dyn extends boolean = false,
    const R extends boolean = true,
  >(
    options: NamespaceOptions<S, Dyn, R>,
  ): ProcessSpec<With<T, 'outputs', ConfigureNamespace<T['outputs'], DynIn<S, Dyn>, DynOut<S, Dyn>, R>>> {
    this.#ensureOpen('configure the outputs');
    configure(this.outputs, options);
    return this as never;
  }

  /**
   * Adds the inputs of another process class (deep copies), at the top level or in `namespace`, filtered by
   * `include` or `exclude`; the namespace takes the exposed namespace's properties unless overridden.
   */
  exposeInputs<
    C extends HasSpec,
    const N extends string = never,
    const I extends string = never,
    const E extends string = never,
  >(
    processClass: C,
    options: ExposeOptions<N, I, E> = {},
  ): ProcessSpec<
    With<
      T,
      'inputs',
      [N] extends [never]
        ? MergeNamespaces<T['inputs'], Exposed<SpecOf<C>['inputs'], I, E>>
        : SetAt<
            T['inputs'],
            N,
            MergeNamespaces<NamespaceAt<T['inputs'], N>, Exposed<SpecOf<C>['inputs'], I, E>>
          >
    >
  > {
    this.#ensureOpen('expose inputs');
    expose(processClass, processClass.spec().inputs, this.inputs, this.exposedInputs, options);
    return this as never;
  }

  /** Adds the outputs of another process class, like {@link exposeInputs}. */
  exposeOutputs<
    C extends HasSpec,
    const N extends string = never,
    const I extends string = never,
    const E extends string = never,
  >(
    processClass: C,
    options: ExposeOptions<N, I, E> = {},
  ): ProcessSpec<
    With<
      T,
      'outputs',
      [N] extends [never]
        ? MergeNamespaces<T['outputs'], Exposed<SpecOf<C>['outputs'], I, E>>
        : SetAt<
            T['outputs'],
            N,
            MergeNamespaces<NamespaceAt<T['outputs'], N>, Exposed<SpecOf<C>['outputs'], I, E>>
          >
    >
  > {
    this.#ensureOpen('expose outputs');
    expose(processClass, processClass.spec().outputs, this.outputs, this.exposedOutputs, options);
    return this as never;
  }

  /** Registers an exit code (status ≥ 0, unique label). */
  exitCode<const L extends string>(
    status: number,
    label: L,
    message: string,
    options: Omit<ExitCodeOptions, 'message'> = {},
  ): ProcessSpec<With<T, 'exitCodes', T['exitCodes'] | L>> {
    this.#ensureOpen(`add the exit code '${label}'`);
    this.exitCodes.add(status, label, message, options);
    return this as never;
  }

  /**
   * Declares fields of a work chain's context (`ctx`). Without an argument it declares types only, and the fields
   * are optional (`undefined` until a step sets them or a `toContext` fills them). With `defaults`, a function
   * returning the initial values, the fields are typed from those values and always present: a new work chain's
   * context starts as what the function returns (called once per work chain, so lists and nodes are not shared).
   * Several calls add up, and a subclass adds to its parent's context.
   */
  context<C extends object>(): ProcessSpec<With<T, 'context', MergeContext<T['context'], Partial<C>>>>;
  context<C extends object>(
    defaults: () => C,
  ): ProcessSpec<With<T, 'context', MergeContext<T['context'], C>>>;
  context(defaults?: () => object): ProcessSpec<SpecTypes> {
    if (defaults !== undefined) {
      this.#ensureOpen('declare context defaults');
      this.contextDefaults.push(defaults);
    }
    return this as never;
  }

  /** The initial context of a new work chain: the declared defaults, the later ones over the earlier. */
  initialContext(): Record<string, unknown> {
    const context: Record<string, unknown> = {};
    for (const defaults of this.contextDefaults) Object.assign(context, defaults());
    return context;
  }

  hasInput(name: string): boolean {
    return this.inputs.has(name);
  }

  hasOutput(name: string): boolean {
    return this.outputs.has(name);
  }

  /** `{inputs, outputs[, outline]}` descriptions (plumpy's `get_description`). */
  getDescription(): Record<string, unknown> {
    const description: Record<string, unknown> = {
      inputs: this.inputs.getDescription(),
      outputs: this.outputs.getDescription(),
    };
    if (this.outline !== undefined) description['outline'] = this.outline.getDescription();
    return description;
  }

  toString(): string {
    return JSON.stringify(this.getDescription(), null, 4);
  }

  /**
   * An unsealed deep copy (ports copied; schemas, validators and the outline shared), of this spec's class
   * or of `Ctor`.
   */
  clone(
    Ctor: new () => ProcessSpec<SpecTypes> = this.constructor as new () => ProcessSpec<SpecTypes>,
  ): ProcessSpec<T> {
    const copy = new Ctor() as unknown as ProcessSpec<T>;
    copy.ports.set(ProcessSpec.NAME_INPUTS_PORT_NAMESPACE, this.inputs.clone());
    copy.ports.set(ProcessSpec.NAME_OUTPUTS_PORT_NAMESPACE, this.outputs.clone());
    (copy as { exitCodes: ExitCodes<T['exitCodes']> }).exitCodes = this.exitCodes.clone();
    for (const [ns, map] of this.exposedInputs) copy.exposedInputs.set(ns, new Map(map));
    for (const [ns, map] of this.exposedOutputs) copy.exposedOutputs.set(ns, new Map(map));
    copy.outline = this.outline;
    copy.contextDefaults.push(...this.contextDefaults);
    return copy;
  }
}

function configure(
  namespace: PortNamespace,
  options: NamespaceOptions<Schema | undefined, boolean, boolean>,
): void {
  if (options.help !== undefined) namespace.help = options.help;
  if (options.required !== undefined) namespace.required = options.required;
  if (options.validator !== undefined) namespace.validator = options.validator;
  if (options.populateDefaults !== undefined) namespace.populateDefaults = options.populateDefaults;
  if (options.default !== undefined) namespace.default = options.default;
  if (options.dynamic !== undefined) namespace.dynamic = options.dynamic;
  if (options.validType !== undefined) namespace.validType = options.validType;
}

function expose(
  processClass: HasSpec,
  source: PortNamespace,
  destination: PortNamespace,
  memory: ExposedMemory,
  options: ExposeOptions<string, string, string>,
): void {
  if (options.include !== undefined && options.exclude !== undefined) {
    throw new SpecError('exclude and include are mutually exclusive');
  }
  const namespace = options.namespace;
  const target =
    namespace === undefined || namespace === '' ? destination : destination.createPortNamespace(namespace);
  const absorbed = target.absorb(source, {
    exclude: options.exclude,
    include: options.include,
    namespaceOptions: options.namespaceOptions,
  });
  const key = namespace === undefined || namespace === '' ? null : namespace;
  let byClass = memory.get(key);
  if (byClass === undefined) {
    byClass = new Map();
    memory.set(key, byClass);
  }
  byClass.set(processClass, absorbed);
}

/** The inputs a spec's class accepts (for helpers that build inputs). */
export type SpecInputs<T extends SpecTypes> = NamespaceIn<T['inputs']>;
