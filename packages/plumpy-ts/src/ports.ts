import type { z } from 'zod';
import { SpecError, type ValidationIssue } from './errors.js';
import { isPlainObject } from './values.js';

/** The separator of nested port names: `some.name.space`. */
export const NAMESPACE_SEPARATOR = '.';

/** Marks "no value given" (plumpy's `UNSPECIFIED`); `undefined` in a value mapping means the same. */
export const UNSPECIFIED: unique symbol = Symbol.for('plumpy-ts.UNSPECIFIED');
export type Unspecified = typeof UNSPECIFIED;

/**
 * Checks a value beyond its type. Returns an error message, or nothing when the value is valid. For a port
 * namespace the value is the whole mapping of the namespace (after its ports were validated).
 */
// The method form makes the parameters bivariant, so a validator written for an InputPort fits a Port slot.
export type Validator<V = unknown, P extends Port = Port> = {
  bivarianceHack(value: V, port: P): string | null | undefined | void;
}['bivarianceHack'];

/** What parsing a value against a port gives: the converted value, or every problem found. */
export type ParseResult =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly issues: ValidationIssue[] };

const OK_UNSPECIFIED: ParseResult = { ok: true, value: UNSPECIFIED };

/** Options shared by all ports. */
export interface PortOptions {
  /** The values the port accepts, and how they are converted (its output is what the process sees). */
  readonly validType?: z.ZodType | undefined;
  readonly help?: string | undefined;
  /** Whether a value must be given (default true). */
  readonly required?: boolean | undefined;
  readonly validator?: Validator<never> | undefined;
}

function callValidator(validator: Validator<never>, value: unknown, port: Port): unknown {
  return (validator as unknown as (value: unknown, port: Port) => unknown)(value, port);
}

function joinPath(crumbs: readonly string[]): string {
  return crumbs.filter((c) => c !== '').join(NAMESPACE_SEPARATOR);
}

function describeType(schema: z.ZodType | undefined): string | undefined {
  if (schema === undefined) return undefined;
  if (schema.description !== undefined) return schema.description;
  const def = (schema as unknown as { def?: { type?: string } }).def;
  return def?.type;
}

function checkPortName(name: string): void {
  if (name.includes(NAMESPACE_SEPARATOR))
    throw new SpecError(`port name '${name}' must not contain '${NAMESPACE_SEPARATOR}'`);
}

/**
 * A named value of a process: whether it is required, what it accepts (a zod schema) and an optional
 * validator. Subclasses may override {@link Port.parseValue} to convert raw values before the schema runs.
 */
export class Port {
  readonly name: string;
  help: string | undefined;
  required: boolean;
  validator: Validator<never> | undefined;
  #validType: z.ZodType | undefined;

  constructor(name: string, options: PortOptions = {}) {
    checkPortName(name);
    this.name = name;
    this.#validType = options.validType;
    this.help = options.help;
    this.required = options.required ?? true;
    this.validator = options.validator;
  }

  /** The schema values of this port must pass (undefined: anything). */
  get validType(): z.ZodType | undefined {
    return this.#validType;
  }

  set validType(schema: z.ZodType | undefined) {
    this.#validType = schema;
  }

  /** A human-readable description of the port (plumpy's `get_description`). */
  getDescription(): Record<string, unknown> {
    const description: Record<string, unknown> = {
      name: this.name,
      required: this.required ? 'True' : 'False',
    };
    const type = describeType(this.validType);
    if (type !== undefined) description['valid_type'] = type;
    if (this.help !== undefined) description['help'] = this.help.trim();
    return description;
  }

  /**
   * Converts a present value before validation. The default runs the port's schema; override to accept
   * raw values the schema does not (aiida-ts turns plain numbers into nodes here, say).
   */
  parseValue(value: unknown): z.ZodSafeParseResult<unknown> | { success: true; data: unknown } {
    return this.validType === undefined ? { success: true, data: value } : this.validType.safeParse(value);
  }

  /**
   * Validates `value` (UNSPECIFIED or undefined for "not given") and returns the converted value or every
   * issue, each with the full dotted path built from `breadcrumbs`.
   */
  parse(value: unknown, breadcrumbs: readonly string[] = []): ParseResult {
    if (value === UNSPECIFIED || value === undefined) {
      return this.required
        ? {
            ok: false,
            issues: [
              {
                path: joinPath([...breadcrumbs, this.name]),
                message: `required value was not provided for '${this.name}'`,
              },
            ],
          }
        : OK_UNSPECIFIED;
    }
    const parsed = this.parseValue(value);
    if (!parsed.success) {
      const base = [...breadcrumbs, this.name];
      return {
        ok: false,
        issues: parsed.error.issues.map((issue) => ({
          path: joinPath([...base, ...issue.path.map(String)]),
          message: `value '${this.name}' is not of the right type: ${issue.message}`,
        })),
      };
    }
    if (this.validator !== undefined) {
      const message = callValidator(this.validator, parsed.data, this);
      if (typeof message === 'string')
        return { ok: false, issues: [{ path: joinPath([...breadcrumbs, this.name]), message }] };
    }
    return { ok: true, value: parsed.data };
  }

  /** Every issue with `value` (empty when valid). */
  validate(value: unknown, breadcrumbs: readonly string[] = []): ValidationIssue[] {
    const result = this.parse(value, breadcrumbs);
    return result.ok ? [] : result.issues;
  }

  /**
   * A copy of this port (schemas and validators are shared: they are immutable). Subclasses keep the
   * `(name, options)` constructor or override this; their public fields are copied over.
   */
  clone(): Port {
    const Ctor = this.constructor as new (name: string, options: PortOptions) => Port;
    const copy = new Ctor(this.name, {
      validType: this.validType,
      help: this.help,
      required: this.required,
      validator: this.validator,
    });
    return Object.assign(copy, this);
  }
}

/** A default value, or a function computing it when the process is created (evaluated each time). */
export type PortDefault<V = unknown> = V | (() => V);

/** Options of {@link InputPort}. */
export interface InputPortOptions extends PortOptions {
  readonly default?: unknown;
}

/**
 * An input of a process. A port with a default is never required; a default that is not a function is
 * validated when the port is made, a function default when it is used.
 */
export class InputPort extends Port {
  #default: unknown = UNSPECIFIED;

  constructor(name: string, options: InputPortOptions = {}) {
    const hasDefault = 'default' in options && options.default !== undefined;
    super(name, { ...options, required: hasDefault ? false : (options.required ?? true) });
    if (hasDefault) {
      if (typeof options.default !== 'function') {
        const result = this.parse(options.default);
        if (!result.ok)
          throw new SpecError(
            `invalid default value for port '${name}': ${result.issues.map((i) => i.message).join('; ')}`,
          );
      }
      this.#default = options.default;
    }
  }

  hasDefault(): boolean {
    return this.#default !== UNSPECIFIED;
  }

  /** The default as given (a value or a function); throws when there is none. */
  get default(): unknown {
    if (!this.hasDefault()) throw new SpecError(`port '${this.name}' has no default`);
    return this.#default;
  }

  set default(value: unknown) {
    this.#default = value === undefined ? UNSPECIFIED : value;
  }

  /** The value to use when none is given: the default, called if it is a function. */
  resolveDefault(): unknown {
    const value = this.default;
    return typeof value === 'function' ? (value as () => unknown)() : value;
  }

  override getDescription(): Record<string, unknown> {
    const description = super.getDescription();
    if (this.hasDefault())
      description['default'] = typeof this.#default === 'function' ? '<callable>' : String(this.#default);
    return description;
  }

  override clone(): InputPort {
    const copy = super.clone() as InputPort;
    copy.#default = this.#default;
    return copy;
  }
}

/** An output of a process. */
export class OutputPort extends Port {}

/** Options of {@link PortNamespace}. */
export interface PortNamespaceOptions {
  readonly help?: string | undefined;
  /** When false, the namespace may be left out entirely, even if it holds required ports (default true). */
  readonly required?: boolean | undefined;
  /** Checks the whole mapping of the namespace after its ports passed. */
  readonly validator?: Validator<never, PortNamespace> | undefined;
  /** The type of values accepted under names with no port; setting it makes the namespace dynamic. */
  readonly validType?: z.ZodType | undefined;
  /** Used when no value is given for the namespace at all. */
  readonly default?: unknown;
  /** Accept values under names that have no port (default false). */
  readonly dynamic?: boolean | undefined;
  /**
   * When false and the namespace is not given, its ports' defaults are not filled in (nor those of nested
   * namespaces); once any value is given for it, defaults are filled in as usual (default true).
   */
  readonly populateDefaults?: boolean | undefined;
}

/** The properties {@link PortNamespace.absorb} copies and `namespaceOptions` may override. */
export const MUTABLE_NAMESPACE_PROPERTIES = [
  'help',
  'required',
  'validator',
  'validType',
  'default',
  'dynamic',
  'populateDefaults',
] as const;
export type MutableNamespaceProperty = (typeof MUTABLE_NAMESPACE_PROPERTIES)[number];

/** Options of {@link PortNamespace.absorb}. */
export interface AbsorbOptions {
  /** Ports to leave out (dotted names reach into nested namespaces). Exclusive with `include`. */
  readonly exclude?: readonly string[] | undefined;
  /** The only ports to take (dotted names reach into nested namespaces). Exclusive with `exclude`. */
  readonly include?: readonly string[] | undefined;
  /** Overrides of the absorbed namespace's properties. */
  readonly namespaceOptions?: PortNamespaceOptions | undefined;
}

/**
 * A mapping of ports and nested namespaces. Validation reports every failing path; a dynamic namespace
 * accepts values under any name (of `validType`, if set, at any depth of nested mappings).
 */
export class PortNamespace extends Port {
  readonly #ports = new Map<string, Port>();
  #dynamic = false;
  default: unknown;
  populateDefaults: boolean;

  constructor(name = '', options: PortNamespaceOptions = {}) {
    super(name, {
      help: options.help,
      required: options.required,
      validator: options.validator,
      validType: options.validType,
    });
    this.default = options.default === undefined || options.default === null ? UNSPECIFIED : options.default;
    this.populateDefaults = options.populateDefaults ?? true;
    this.#dynamic = options.validType !== undefined ? true : (options.dynamic ?? false);
  }

  /** Setting a value type makes the namespace dynamic; clearing it leaves `dynamic` as it is (as plumpy). */
  override get validType(): z.ZodType | undefined {
    return super.validType;
  }

  override set validType(schema: z.ZodType | undefined) {
    super.validType = schema;
    if (schema !== undefined) this.#dynamic = true;
  }

  get dynamic(): boolean {
    return this.#dynamic;
  }

  set dynamic(value: boolean) {
    this.#dynamic = value;
  }

  hasDefault(): boolean {
    return this.default !== UNSPECIFIED;
  }

  get size(): number {
    return this.#ports.size;
  }

  has(name: string): boolean {
    return this.#ports.has(name);
  }

  get(name: string): Port | undefined {
    return this.#ports.get(name);
  }

  set(name: string, port: Port): void {
    if (!(port instanceof Port)) throw new SpecError(`the value set under '${name}' must be a Port`);
    checkPortName(name);
    this.#ports.set(name, port);
  }

  delete(name: string): boolean {
    return this.#ports.delete(name);
  }

  keys(): IterableIterator<string> {
    return this.#ports.keys();
  }

  entries(): IterableIterator<[string, Port]> {
    return this.#ports.entries();
  }

  [Symbol.iterator](): IterableIterator<[string, Port]> {
    return this.#ports.entries();
  }

  override getDescription(): Record<string, unknown> {
    const description: Record<string, unknown> = {
      _attrs: {
        default: this.hasDefault() ? this.default : null,
        dynamic: this.dynamic,
        valid_type: describeType(this.validType) ?? 'None',
        required: this.required ? 'True' : 'False',
        help: this.help ?? null,
      },
    };
    for (const [name, port] of this.#ports) description[name] = port.getDescription();
    return description;
  }

  /**
   * The port at the dotted `path`. With `createDynamically`, missing namespaces of a dynamic namespace are
   * made on the fly with the same properties. Throws {@link SpecError} when a part does not exist.
   */
  getPort(path: string, options: { readonly createDynamically?: boolean } = {}): Port {
    if (typeof path !== 'string') throw new SpecError(`a port name must be a string, got ${typeof path}`);
    if (path === '') throw new SpecError('a port name cannot be empty');
    const [first, ...rest] = path.split(NAMESPACE_SEPARATOR) as [string, ...string[]];
    let port = this.#ports.get(first);
    if (port === undefined) {
      if (!this.dynamic || options.createDynamically !== true) {
        throw new SpecError(`port '${first}' does not exist in port namespace '${this.name}'`);
      }
      port = this.#sibling(first);
      this.#ports.set(first, port);
    }
    if (rest.length === 0) return port;
    if (!(port instanceof PortNamespace))
      throw new SpecError(`'${first}' in '${this.name}' is a port, not a namespace`);
    return port.getPort(rest.join(NAMESPACE_SEPARATOR), options);
  }

  /** Like {@link getPort}, but undefined instead of an error for a path that does not exist. */
  findPort(path: string): Port | undefined {
    const [first, ...rest] = path.split(NAMESPACE_SEPARATOR) as [string, ...string[]];
    let current: Port | undefined = this.#ports.get(first);
    for (const part of rest) {
      if (!(current instanceof PortNamespace)) return undefined;
      current = current.get(part);
    }
    return current;
  }

  #sibling(name: string): PortNamespace {
    const Ctor = this.constructor as new (name: string, options: PortNamespaceOptions) => PortNamespace;
    return new Ctor(name, {
      required: this.required,
      validator: this.validator,
      validType: this.validType,
      default: this.hasDefault() ? this.default : undefined,
      dynamic: this.dynamic,
      populateDefaults: this.populateDefaults,
    });
  }

  /**
   * Makes (or finds) the namespace at the dotted `path`; intermediate namespaces get default options, the
   * last one `options`. Throws {@link SpecError} when a part of the path is taken by a port.
   */
  createPortNamespace(path: string, options: PortNamespaceOptions = {}): PortNamespace {
    if (typeof path !== 'string')
      throw new SpecError(`a port namespace name must be a string, got ${typeof path}`);
    if (path === '') throw new SpecError('a port namespace name cannot be empty');
    const [first, ...rest] = path.split(NAMESPACE_SEPARATOR) as [string, ...string[]];
    const existing = this.#ports.get(first);
    if (existing !== undefined && !(existing instanceof PortNamespace)) {
      throw new SpecError(`the name '${first}' in '${this.name}' already holds a port`);
    }
    let namespace = existing;
    if (namespace === undefined) {
      const Ctor = this.constructor as new (name: string, options?: PortNamespaceOptions) => PortNamespace;
      namespace = rest.length > 0 ? new Ctor(first) : new Ctor(first, options);
      this.#ports.set(first, namespace);
    }
    return rest.length > 0
      ? namespace.createPortNamespace(rest.join(NAMESPACE_SEPARATOR), options)
      : namespace;
  }

  /**
   * Takes the ports of `source` (deep copies) and its properties (unless `namespaceOptions` overrides them);
   * returns the names of the ports absorbed at this level.
   */
  absorb(source: PortNamespace, options: AbsorbOptions = {}): string[] {
    if (!(source instanceof PortNamespace)) throw new SpecError('only a PortNamespace can be absorbed');
    const { exclude, include } = options;
    if (exclude !== undefined && include !== undefined)
      throw new SpecError('exclude and include are mutually exclusive');
    const overrides: Record<string, unknown> = { ...(options.namespaceOptions ?? {}) };
    for (const key of Object.keys(overrides)) {
      if (!(MUTABLE_NAMESPACE_PROPERTIES as readonly string[]).includes(key)) {
        throw new SpecError(`the namespace option '${key}' is not a supported PortNamespace property`);
      }
    }
    this.#copyProperties(source, overrides);

    const absorbed: string[] = [];
    for (const [name, port] of source.#ports) {
      if (exclude?.includes(name) === true) continue;
      if (port instanceof PortNamespace) {
        if (
          include !== undefined &&
          include.length > 0 &&
          !include.some((rule) => rule === name || rule.startsWith(`${name}${NAMESPACE_SEPARATOR}`))
        )
          continue;
        const Ctor = port.constructor as new (name: string) => PortNamespace;
        const copy = new Ctor(name);
        copy.absorb(port, {
          exclude: stripNamespace(name, exclude),
          include: stripNamespace(name, include),
        });
        this.#ports.set(name, copy);
      } else {
        if (include !== undefined && include.length > 0 && !include.includes(name)) continue;
        this.#ports.set(name, port.clone());
      }
      absorbed.push(name);
    }
    return absorbed;
  }

  #copyProperties(source: PortNamespace, overrides: Record<string, unknown>): void {
    const pick = (key: MutableNamespaceProperty): unknown =>
      key in overrides ? overrides[key] : source[key];
    this.help = pick('help') as string | undefined;
    this.required = (pick('required') as boolean | undefined) ?? true;
    this.validator = pick('validator') as Validator<never> | undefined;
    const def = pick('default');
    this.default = def === undefined || def === null ? UNSPECIFIED : def;
    this.populateDefaults = (pick('populateDefaults') as boolean | undefined) ?? true;
    // Set `dynamic` after `validType`: the latter's setter turns dynamic on, an explicit override wins.
    super.validType = pick('validType') as z.ZodType | undefined;
    this.#dynamic = (pick('dynamic') as boolean | undefined) ?? false;
    if (super.validType !== undefined && !('dynamic' in overrides)) this.#dynamic = true;
  }

  /** The part of `values` whose keys are ports of this namespace, recursively. */
  project(values: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(values)) {
      const port = this.#ports.get(name);
      if (port === undefined) continue;
      result[name] = port instanceof PortNamespace && isPlainObject(value) ? port.project(value) : value;
    }
    return result;
  }

  /**
   * `values` with defaults filled in (a new mapping; `values` is not changed). A namespace whose
   * `populateDefaults` is false is skipped when it was not given.
   */
  preProcess(values: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(values)) if (value !== undefined) out[key] = value;
    for (const [name, port] of this.#ports) {
      const given = out[name];
      let value: unknown;
      if (given === undefined) {
        if (port instanceof PortNamespace && !port.populateDefaults) continue;
        if (port instanceof InputPort && port.hasDefault()) value = port.resolveDefault();
        else if (port instanceof PortNamespace && port.hasDefault())
          value = typeof port.default === 'function' ? (port.default as () => unknown)() : port.default;
        else if (port instanceof PortNamespace && port.size > 0) value = {};
        else continue;
      } else {
        value = given;
      }
      out[name] = port instanceof PortNamespace && isPlainObject(value) ? port.preProcess(value) : value;
    }
    return out;
  }

  /**
   * Validates the mapping `values` and returns it converted (each port's schema output), or every issue.
   * Explicit ports first, then names without a port (dynamic), then the namespace's validator with the
   * whole mapping, if everything else passed.
   */
  override parse(values: unknown, breadcrumbs: readonly string[] = []): ParseResult {
    const local = [...breadcrumbs, this.name];
    const given = values !== UNSPECIFIED && values !== undefined;
    const mapping: unknown = given ? values : {};
    if (!isPlainObject(mapping)) {
      return {
        ok: false,
        issues: [
          {
            path: joinPath(local),
            message: `specified value is of type ${typeName(mapping)} which is not a mapping`,
          },
        ],
      };
    }
    const keys = Object.keys(mapping).filter((k) => mapping[k] !== undefined);
    if (keys.length === 0 && !this.required) return given ? { ok: true, value: {} } : OK_UNSPECIFIED;

    const issues: ValidationIssue[] = [];
    const out: Record<string, unknown> = {};
    for (const [name, port] of this.#ports) {
      const result = port.parse(mapping[name], local);
      if (!result.ok) issues.push(...result.issues);
      else if (result.value !== UNSPECIFIED) out[name] = result.value;
    }
    const leftover = keys.filter((k) => !this.#ports.has(k));
    if (leftover.length > 0) {
      if (!this.dynamic) {
        issues.push({
          path: joinPath(local),
          message: `Unexpected ports ${JSON.stringify(leftover)}, for a non dynamic namespace`,
        });
      } else {
        for (const key of leftover) {
          const result = this.#parseDynamic(mapping[key], [...local, key]);
          if (!result.ok) issues.push(...result.issues);
          else out[key] = result.value;
        }
      }
    }
    if (issues.length === 0 && this.validator !== undefined) {
      const message = callValidator(this.validator, mapping, this);
      if (typeof message === 'string') issues.push({ path: joinPath(local), message });
    }
    if (issues.length > 0) return { ok: false, issues };
    return given || Object.keys(out).length > 0 ? { ok: true, value: out } : OK_UNSPECIFIED;
  }

  /**
   * Parses `values` that have no port here against the dynamic properties of the namespace: the converted
   * mapping, or every issue (a non-dynamic namespace accepts none).
   */
  parseDynamicValues(
    values: Readonly<Record<string, unknown>>,
    breadcrumbs: readonly string[] = [],
  ): ParseResult {
    const local = [...breadcrumbs, this.name];
    const keys = Object.keys(values).filter((k) => values[k] !== undefined);
    if (keys.length > 0 && !this.dynamic) {
      return {
        ok: false,
        issues: [
          {
            path: joinPath(local),
            message: `Unexpected ports ${JSON.stringify(keys)}, for a non dynamic namespace`,
          },
        ],
      };
    }
    const issues: ValidationIssue[] = [];
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      const result = this.#parseDynamic(values[key], [...local, key]);
      if (!result.ok) issues.push(...result.issues);
      else out[key] = result.value;
    }
    return issues.length > 0 ? { ok: false, issues } : { ok: true, value: out };
  }

  /** Every issue with `values` against the dynamic properties of the namespace (names with no port). */
  validateDynamicPorts(
    values: Readonly<Record<string, unknown>>,
    breadcrumbs: readonly string[] = [],
  ): ValidationIssue[] {
    const local = [...breadcrumbs, this.name];
    const keys = Object.keys(values).filter((k) => values[k] !== undefined);
    if (keys.length > 0 && !this.dynamic) {
      return [
        {
          path: joinPath(local),
          message: `Unexpected ports ${JSON.stringify(keys)}, for a non dynamic namespace`,
        },
      ];
    }
    const issues: ValidationIssue[] = [];
    for (const key of keys) {
      const result = this.#parseDynamic(values[key], [...local, key]);
      if (!result.ok) issues.push(...result.issues);
    }
    return issues;
  }

  /** Parses a value under a name with no port: nested mappings are walked, leaves checked against `validType`. */
  #parseDynamic(value: unknown, crumbs: readonly string[]): ParseResult {
    if (this.validType === undefined) return { ok: true, value };
    if (isPlainObject(value)) {
      const issues: ValidationIssue[] = [];
      const out: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(value)) {
        if (sub === undefined) continue;
        const result = this.#parseDynamic(sub, [...crumbs, key]);
        if (!result.ok) issues.push(...result.issues);
        else out[key] = result.value;
      }
      return issues.length > 0 ? { ok: false, issues } : { ok: true, value: out };
    }
    const parsed = this.validType.safeParse(value);
    if (parsed.success) return { ok: true, value: parsed.data };
    return {
      ok: false,
      issues: parsed.error.issues.map((issue) => ({
        path: joinPath([...crumbs, ...issue.path.map(String)]),
        message: `invalid type ${typeName(value)} for dynamic port value: ${issue.message}`,
      })),
    };
  }

  /** A deep copy: nested namespaces and ports are copied, schemas and validators shared. */
  override clone(): PortNamespace {
    const Ctor = this.constructor as new (name: string) => PortNamespace;
    const copy = new Ctor(this.name);
    copy.#copyProperties(this, {});
    // Public fields of subclasses (aiida-ts's `nonDb`, say) travel with the copy.
    Object.assign(copy, this);
    copy.#dynamic = this.#dynamic;
    for (const [name, port] of this.#ports) copy.#ports.set(name, port.clone());
    return copy;
  }
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

/**
 * The rules that reach into namespace `name`, with its prefix removed: `('base.a', 'base.sub.b', 'x')` for
 * `base` gives `('a', 'sub.b')`. Undefined stays undefined.
 */
export function stripNamespace(name: string, rules: readonly string[] | undefined): string[] | undefined {
  if (rules === undefined) return undefined;
  const prefix = `${name}${NAMESPACE_SEPARATOR}`;
  return rules.filter((rule) => rule.startsWith(prefix)).map((rule) => rule.slice(prefix.length));
}
