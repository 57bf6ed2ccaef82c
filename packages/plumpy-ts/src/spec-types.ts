/**
 * Type-level descriptions of process specifications. A {@link ProcessSpec} builder carries a
 * {@link SpecTypes} that grows with every `input`/`output`/`exposeInputs` call; process classes made with
 * `Process.define(...)` derive the types of their inputs, outputs and context from it.
 */

/** A port as the type system sees it: the value it accepts, the value the process sees, and its presence. */
export interface PortDesc<
  In = unknown,
  Out = unknown,
  Req extends boolean = boolean,
  Def extends boolean = boolean,
> {
  readonly kind: 'port';
  readonly in: In;
  readonly out: Out;
  readonly required: Req;
  readonly hasDefault: Def;
}

/** The ports of a namespace, by name. */
export type PortMap = { readonly [name: string]: PortDesc | NamespaceDesc };

/**
 * A namespace as the type system sees it. `DynIn`/`DynOut` are the types of values under names with no
 * port (`never` when the namespace is not dynamic).
 */
export interface NamespaceDesc<
  P = PortMap,
  DynIn = unknown,
  DynOut = unknown,
  Req extends boolean = boolean,
> {
  readonly kind: 'namespace';
  readonly ports: P;
  readonly dynIn: DynIn;
  readonly dynOut: DynOut;
  readonly required: Req;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type EmptyPorts = {};
/** A namespace without ports that accepts nothing else. */
export type EmptyNamespace = NamespaceDesc<EmptyPorts, never, never, true>;

/** Everything a spec knows at the type level. */
export interface SpecTypes {
  readonly inputs: AnyNamespace;
  readonly outputs: AnyNamespace;
  /** The work chain context (`ctx`); unused by plain processes. */
  readonly context: object;
  /** The labels of the spec's exit codes. */
  readonly exitCodes: string;
}

/** The spec of `Process` itself: no inputs, no outputs, an untyped context. */
export interface EmptySpec extends SpecTypes {
  readonly inputs: EmptyNamespace;
  readonly outputs: EmptyNamespace;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly context: Record<string, any>;
  readonly exitCodes: never;
}

/** Any namespace description (for constraints). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyNamespace = NamespaceDesc<any, any, any, any>;

/** Flattens intersections for readable hover types. */
export type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** A value of a dynamic namespace: a leaf, or a mapping of such values at any depth. */
export type DynamicValue<V> = V | DynamicMapping<V>;

/** A mapping in a dynamic namespace (an interface, so that the compiler compares it cheaply). */
export interface DynamicMapping<V> {
  readonly [key: string]: DynamicValue<V>;
}

type IsNever<T> = [T] extends [never] ? true : false;
/** True for `any`: recursive types stop there instead of unfolding forever. */
type IsAny<T> = 0 extends 1 & T ? true : false;
type AnyPorts<NS extends AnyNamespace> = IsAny<NS['ports']>;

// ---- inputs given to a process ------------------------------------------------------------------------

/** True when a value must be given for the port or namespace. */
export type IsRequiredIn<D> =
  D extends PortDesc<unknown, unknown, infer R, infer Def>
    ? R extends true
      ? Def extends true
        ? false
        : true
      : false
    : D extends NamespaceDesc<infer P, unknown, unknown, infer R>
      ? R extends true
        ? HasRequiredIn<P>
        : false
      : false;

type HasRequiredIn<P> = true extends { [K in keyof P]: IsRequiredIn<P[K]> }[keyof P] ? true : false;

/** The value a port or namespace accepts when the process is made. */
export type ValueIn<D> = D extends PortDesc<infer In> ? In : D extends AnyNamespace ? NamespaceIn<D> : never;

type DynamicPartIn<NS extends AnyNamespace> =
  IsNever<NS['dynIn']> extends true
    ? unknown
    : {
        readonly [key: string]:
          DynamicValue<NS['dynIn']> | ValueIn<NS['ports'][keyof NS['ports']]> | undefined;
      };

/** The mapping a namespace accepts: required ports as required keys, the rest optional. */
export type NamespaceIn<NS extends AnyNamespace> =
  AnyPorts<NS> extends true ? Readonly<Record<string, unknown>> : NamespaceInOf<NS>;

type NamespaceInOf<NS extends AnyNamespace> = Simplify<
  {
    readonly [K in keyof NS['ports'] as IsRequiredIn<NS['ports'][K]> extends true ? K : never]: ValueIn<
      NS['ports'][K]
    >;
  } & {
    readonly [K in keyof NS['ports'] as IsRequiredIn<NS['ports'][K]> extends true ? never : K]?: ValueIn<
      NS['ports'][K]
    >;
  }
> &
  DynamicPartIn<NS>;

// ---- parsed inputs, as the process sees them ---------------------------------------------------------

/** True when the parsed value is always present: required, or filled in from a default. */
export type IsPresentOut<D> =
  D extends PortDesc<unknown, unknown, infer R, infer Def>
    ? R extends true
      ? true
      : Def
    : D extends NamespaceDesc<infer P, unknown, unknown, infer R>
      ? R extends true
        ? keyof P extends never
          ? false
          : true
        : false
      : false;

/** The value the process sees for a port or namespace (each schema's output). */
export type ValueOut<D> =
  D extends PortDesc<unknown, infer Out> ? Out : D extends AnyNamespace ? NamespaceOut<D> : never;

type DynamicPartOut<NS extends AnyNamespace> =
  IsNever<NS['dynOut']> extends true
    ? unknown
    : {
        readonly [key: string]:
          DynamicValue<NS['dynOut']> | ValueOut<NS['ports'][keyof NS['ports']]> | undefined;
      };

/** A parsed namespace: defaults filled in, values converted by their schemas, read-only. */
export type NamespaceOut<NS extends AnyNamespace> =
  AnyPorts<NS> extends true ? Readonly<Record<string, unknown>> : NamespaceOutOf<NS>;

type NamespaceOutOf<NS extends AnyNamespace> = Simplify<
  {
    readonly [K in keyof NS['ports'] as IsPresentOut<NS['ports'][K]> extends true ? K : never]: ValueOut<
      NS['ports'][K]
    >;
  } & {
    readonly [K in keyof NS['ports'] as IsPresentOut<NS['ports'][K]> extends true ? never : K]?: ValueOut<
      NS['ports'][K]
    >;
  }
> &
  DynamicPartOut<NS>;

/** Outputs of a finished process: required ports present, the others optional. */
export type OutputsOf<NS extends AnyNamespace> =
  AnyPorts<NS> extends true ? Readonly<Record<string, unknown>> : OutputsOfNamespace<NS>;

type OutputsOfNamespace<NS extends AnyNamespace> = Simplify<
  {
    readonly [K in keyof NS['ports'] as IsRequiredIn<NS['ports'][K]> extends true ? K : never]: ValueOut<
      NS['ports'][K]
    >;
  } & {
    readonly [K in keyof NS['ports'] as IsRequiredIn<NS['ports'][K]> extends true ? never : K]?: ValueOut<
      NS['ports'][K]
    >;
  }
> &
  DynamicPartOut<NS>;

// ---- output paths ------------------------------------------------------------------------------------

/** Every dotted path `out()` accepts: explicit ports, namespaces, and any name under a dynamic namespace. */
export type OutPath<NS extends AnyNamespace> = AnyPorts<NS> extends true ? string : OutPathOf<NS>;

type OutPathOf<NS extends AnyNamespace> =
  | {
      [K in keyof NS['ports'] & string]: NS['ports'][K] extends AnyNamespace
        ? K | `${K}.${OutPath<NS['ports'][K]>}`
        : K;
    }[keyof NS['ports'] & string]
  | (IsNever<NS['dynIn']> extends true ? never : string);

/** The value `out()` accepts at `P`. */
export type OutValueAt<NS extends AnyNamespace, P extends string> =
  AnyPorts<NS> extends true
    ? unknown
    : P extends keyof NS['ports']
      ? ValueIn<NS['ports'][P]>
      : P extends `${infer H}.${infer R}`
        ? H extends keyof NS['ports']
          ? NS['ports'][H] extends AnyNamespace
            ? OutValueAt<NS['ports'][H], R>
            : never
          : DynamicValue<NS['dynIn']>
        : DynamicValue<NS['dynIn']>;

/** The dotted paths of explicit output ports and namespaces. */
export type ExplicitOutPath<NS extends AnyNamespace> =
  AnyPorts<NS> extends true ? string : ExplicitOutPathOf<NS>;

type ExplicitOutPathOf<NS extends AnyNamespace> = {
  [K in keyof NS['ports'] & string]: NS['ports'][K] extends AnyNamespace
    ? K | `${K}.${ExplicitOutPath<NS['ports'][K]>}`
    : K;
}[keyof NS['ports'] & string];

/** The value `out()` accepts at each explicit path. */
export type ExplicitOutValues<NS extends AnyNamespace> = {
  readonly [P in ExplicitOutPath<NS>]: OutValueAt<NS, P>;
};

/** Patterns of the paths under dynamic namespaces (`ns.${string}`; `string` for a dynamic root). */
export type DynamicOutPath<NS extends AnyNamespace, Prefix extends string = ''> =
  AnyPorts<NS> extends true ? `${Prefix}${string}` : DynamicOutPathOf<NS, Prefix>;

type DynamicOutPathOf<NS extends AnyNamespace, Prefix extends string> =
  | (IsNever<NS['dynIn']> extends true ? never : `${Prefix}${string}`)
  | {
      [K in keyof NS['ports'] & string]: NS['ports'][K] extends AnyNamespace
        ? DynamicOutPath<NS['ports'][K], `${Prefix}${K}.`>
        : never;
    }[keyof NS['ports'] & string];

/** The values dynamic namespaces accept (a union over all of them). */
export type DynamicOutValue<NS extends AnyNamespace> =
  AnyPorts<NS> extends true ? unknown : DynamicOutValueOf<NS>;

type DynamicOutValueOf<NS extends AnyNamespace> =
  | (IsNever<NS['dynIn']> extends true ? never : DynamicValue<NS['dynIn']>)
  | {
      [K in keyof NS['ports'] & string]: NS['ports'][K] extends AnyNamespace
        ? DynamicOutValue<NS['ports'][K]>
        : never;
    }[keyof NS['ports'] & string];

// ---- building ----------------------------------------------------------------------------------------

type SetKey<P, K extends string, D> = { readonly [X in keyof P | K]: X extends K ? D : P[X & keyof P] };

type Child<NS extends AnyNamespace, K extends string> = K extends keyof NS['ports']
  ? NS['ports'][K] extends AnyNamespace
    ? NS['ports'][K]
    : EmptyNamespace
  : EmptyNamespace;

/** `NS` with descriptor `D` at the dotted `Path`; intermediate namespaces are made as needed. */
export type SetAt<NS extends AnyNamespace, Path extends string, D> = Path extends `${infer H}.${infer R}`
  ? NamespaceDesc<
      SetKey<NS['ports'], H, SetAt<Child<NS, H>, R, D>>,
      NS['dynIn'],
      NS['dynOut'],
      NS['required']
    >
  : NamespaceDesc<SetKey<NS['ports'], Path, D>, NS['dynIn'], NS['dynOut'], NS['required']>;

/** The namespace at the dotted `Path` (an empty one if there is none). */
export type NamespaceAt<NS extends AnyNamespace, Path extends string> = Path extends `${infer H}.${infer R}`
  ? NamespaceAt<Child<NS, H>, R>
  : Child<NS, Path>;

/** `NS` with the ports of `Other` added (Other's ports win) and Other's namespace properties. */
export type MergeNamespaces<NS extends AnyNamespace, Other extends AnyNamespace> = NamespaceDesc<
  {
    readonly [X in keyof NS['ports'] | keyof Other['ports']]: X extends keyof Other['ports']
      ? Other['ports'][X]
      : NS['ports'][X & keyof NS['ports']];
  },
  Other['dynIn'],
  Other['dynOut'],
  Other['required']
>;

type StripPrefix<Rules extends string, K extends string> = Rules extends `${K}.${infer Rest}` ? Rest : never;

/** `NS` without the ports named by the dotted `Rules`. */
export type ExcludePorts<NS extends AnyNamespace, Rules extends string> = NamespaceDesc<
  {
    readonly [K in keyof NS['ports'] as K extends Rules ? never : K]: NS['ports'][K] extends AnyNamespace
      ? K extends string
        ? IsNever<StripPrefix<Rules, K>> extends true
          ? NS['ports'][K]
          : ExcludePorts<NS['ports'][K], StripPrefix<Rules, K>>
        : NS['ports'][K]
      : NS['ports'][K];
  },
  NS['dynIn'],
  NS['dynOut'],
  NS['required']
>;

/** `NS` with only the ports named by the dotted `Rules` (a namespace named whole keeps all its ports). */
export type IncludePorts<NS extends AnyNamespace, Rules extends string> = NamespaceDesc<
  {
    readonly [
      K in keyof NS['ports'] as K extends Rules
        ? K
        : NS['ports'][K] extends AnyNamespace
          ? K extends string
            ? IsNever<StripPrefix<Rules, K>> extends true
              ? never
              : K
            : never
          : never
    ]: K extends Rules
      ? NS['ports'][K]
      : NS['ports'][K] extends AnyNamespace
        ? IncludePorts<NS['ports'][K], StripPrefix<Rules, K & string>>
        : never;
  },
  NS['dynIn'],
  NS['dynOut'],
  NS['required']
>;

/** The ports `exposeInputs`/`exposeOutputs` takes from `NS` with these include/exclude rules. */
export type Exposed<NS extends AnyNamespace, Include extends string, Exclude extends string> =
  IsNever<Include> extends true
    ? IsNever<Exclude> extends true
      ? NS
      : ExcludePorts<NS, Exclude>
    : IncludePorts<NS, Include>;

/** `NS` with its own (dynamic, required) properties replaced. */
export type ConfigureNamespace<NS extends AnyNamespace, DynIn, DynOut, Req extends boolean> = NamespaceDesc<
  NS['ports'],
  DynIn,
  DynOut,
  Req
>;

// ---- spec types of a class ---------------------------------------------------------------------------

/** The key of the phantom static property through which a process class carries its spec types. */
export type SpecTypesKey = '~plumpySpec';

/** The spec types of a process class (those of `Process` for a class not made with `define`). */
export type SpecOf<C> = C extends { readonly '~plumpySpec'?: infer S }
  ? NonNullable<S> extends SpecTypes
    ? SpecTypes extends NonNullable<S>
      ? EmptySpec
      : NonNullable<S>
    : EmptySpec
  : EmptySpec;

/** The inputs a process class accepts when made. */
export type InputsOf<C> = NamespaceIn<SpecOf<C>['inputs']>;
/** The parsed inputs of a process class (its `this.inputs`). */
export type ParsedInputsOf<C> = NamespaceOut<SpecOf<C>['inputs']>;
/** The outputs of a finished process of this class. */
export type ProcessOutputsOf<C> = OutputsOf<SpecOf<C>['outputs']>;
