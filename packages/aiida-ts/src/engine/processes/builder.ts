import {
  Port,
  PortNamespace,
  isPlainObject,
  type AnyNamespace,
  type NamespaceDesc,
  type PortDesc,
  type ProcessClass,
  type SpecOf,
} from 'plumpy-ts';
import { InvalidOperationError, NotExistentError, ValidationError } from '../../errors.js';
import { LinkType } from '../../orm/links.js';
import { ProcessNode } from '../../orm/nodes/process/process.js';
import type { EngineProcessClass } from './instantiate.js';
import { BUILDER_INPUTS } from './launchable.js';
import { processClassRegistry } from './process-type.js';
import { nestByLabel } from './provenance.js';

/** The methods of a builder namespace (named like aiida's, with a leading underscore, so ports never clash). */
export interface BuilderNamespaceMethods {
  /** Replaces the values of the given keys (namespaces wholesale), validating each. */
  _update(values: Readonly<Record<string, unknown>>): void;
  /** Merges values in recursively, keeping the values already set elsewhere. */
  _merge(values: Readonly<Record<string, unknown>>): void;
  /** The values set, as a nested plain object; `prune` (default true) drops empty namespaces. */
  _inputs(options?: { readonly prune?: boolean }): Record<string, unknown>;
  /** The port (or namespace) behind this namespace. */
  readonly _port: PortNamespace;
}

/** A builder namespace typed by a spec namespace: ports as settable properties, namespaces as nested builders. */
export type BuilderNamespace<NS extends AnyNamespace> = {
  -readonly [K in keyof NS['ports']]: NS['ports'][K] extends NamespaceDesc
    ? BuilderNamespace<NS['ports'][K]>
    : NS['ports'][K] extends PortDesc<infer In>
      ? In | undefined
      : never;
} & BuilderNamespaceMethods;

/**
 * A process builder (aiida's `ProcessBuilder`): the inputs of a process class assigned one by one, with the types of
 * its spec (`builder.x = 1`, `builder.inner.y = new Int(2)`, `builder.metadata.label = 'run'`), each checked when set
 * (an unknown port is an `NotExistentError`, a wrong value a `ValidationError`). Launch it with `run(builder)`,
 * `submit(builder)`.
 */
export type ProcessBuilder<C extends ProcessClass = ProcessClass> = BuilderNamespace<SpecOf<C>['inputs']> & {
  readonly processClass: C;
  [BUILDER_INPUTS](): Record<string, unknown>;
};

const METHODS = new Set(['_update', '_merge', '_inputs', '_port', 'processClass', 'toJSON', 'then']);

class NamespaceState {
  readonly port: PortNamespace;
  readonly values = new Map<string, unknown>();
  readonly path: string;

  constructor(port: PortNamespace, path: string) {
    this.port = port;
    this.path = path;
  }

  #child(name: string): NamespaceState | undefined {
    const existing = this.values.get(name);
    if (existing instanceof NamespaceState) return existing;
    const port = this.port.get(name);
    if (!(port instanceof PortNamespace)) return undefined;
    const created = new NamespaceState(port, this.path === '' ? name : `${this.path}.${name}`);
    this.values.set(name, created);
    return created;
  }

  get(name: string): unknown {
    const child = this.#child(name);
    if (child !== undefined) return proxyOf(child);
    return this.values.get(name);
  }

  set(name: string, value: unknown): void {
    const port = this.port.get(name);
    const where = this.path === '' ? name : `${this.path}.${name}`;
    if (port === undefined && !this.port.dynamic) {
      throw new NotExistentError(
        `\`${where}\` is not a port of the namespace${this.path === '' ? '' : ` \`${this.path}\``}`,
      );
    }
    if (value === undefined) {
      this.values.delete(name);
      return;
    }
    if (port instanceof PortNamespace) {
      if (!isPlainObject(value)) throw new ValidationError(`\`${where}\` is a namespace: assign a mapping`);
      const child = new NamespaceState(port, where);
      this.values.set(name, child);
      child.update(value);
      return;
    }
    // The value is kept as the port converts it (a plain 3 for an Int port becomes an Int), as aiida serializes.
    if (port instanceof Port) {
      const result = port.parse(value, this.path === '' ? [] : this.path.split('.'));
      if (!result.ok) throw new ValidationError(`invalid value for \`${where}\``, result.issues);
      this.values.set(name, result.value);
    } else {
      const result = this.port.parseDynamicValues(
        { [name]: value },
        this.path === '' ? [] : this.path.split('.').slice(0, -1),
      );
      if (!result.ok) throw new ValidationError(`invalid value for \`${where}\``, result.issues);
      this.values.set(name, (result.value as Record<string, unknown>)[name]);
    }
  }

  update(values: Readonly<Record<string, unknown>>): void {
    for (const [key, value] of Object.entries(values)) this.set(key, value);
  }

  merge(values: Readonly<Record<string, unknown>>): void {
    for (const [key, value] of Object.entries(values)) {
      const child = isPlainObject(value) ? this.#child(key) : undefined;
      if (child !== undefined) child.merge(value as Record<string, unknown>);
      else this.set(key, value);
    }
  }

  inputs(prune: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of this.values) {
      if (value instanceof NamespaceState) {
        const nested = value.inputs(prune);
        if (!prune || Object.keys(nested).length > 0) out[key] = nested;
      } else {
        out[key] = value;
      }
    }
    return out;
  }
}

const proxies = new WeakMap<NamespaceState, object>();

function proxyOf(state: NamespaceState, extra: Record<PropertyKey, unknown> = {}): object {
  const existing = proxies.get(state);
  if (existing !== undefined) return existing;
  const methods: Record<PropertyKey, unknown> = {
    _update: (values: Readonly<Record<string, unknown>>) => state.update(values),
    _merge: (values: Readonly<Record<string, unknown>>) => state.merge(values),
    _inputs: (options: { readonly prune?: boolean } = {}) => state.inputs(options.prune ?? true),
    _port: state.port,
    toJSON: () => state.inputs(true),
    ...extra,
  };
  const proxy = new Proxy(Object.create(null) as object, {
    get(_target, key) {
      // A port named like a method wins, as in aiida (`builder.values` is the port `values`).
      if (typeof key === 'string' && state.port.has(key)) return state.get(key);
      if (key in methods) return methods[key];
      if (typeof key === 'string' && !METHODS.has(key)) return state.get(key);
      return undefined;
    },
    set(_target, key, value) {
      if (typeof key !== 'string') return false;
      state.set(key, value);
      return true;
    },
    deleteProperty(_target, key) {
      if (typeof key === 'string') state.values.delete(key);
      return true;
    },
    has(_target, key) {
      if (key in methods) return true;
      return typeof key === 'string' && (state.port.has(key) || state.values.has(key));
    },
    ownKeys() {
      return [...new Set([...state.port.keys(), ...state.values.keys()])];
    },
    getOwnPropertyDescriptor(_target, key) {
      if (typeof key !== 'string') return undefined;
      return { enumerable: true, configurable: true, writable: true, value: state.get(key) };
    },
  });
  proxies.set(state, proxy);
  return proxy;
}

/** A builder for the inputs of `processClass` (the `getBuilder()` of every engine process class). */
export function createBuilder<C extends ProcessClass>(processClass: C): ProcessBuilder<C> {
  const state = new NamespaceState(processClass.spec().inputs, '');
  return proxyOf(state, {
    processClass,
    [BUILDER_INPUTS]: () => state.inputs(true),
  }) as ProcessBuilder<C>;
}

/**
 * A builder prefilled with the inputs a finished process ran with (aiida's `get_builder_restart`): its input nodes,
 * nested again from their `__` link labels, and the metadata it was given. The class is found by the node's process
 * type (the module defining it must have been imported).
 */
export async function getBuilderRestart(node: ProcessNode): Promise<ProcessBuilder> {
  if (!(node instanceof ProcessNode))
    throw new InvalidOperationError('only process nodes have a restart builder');
  const processType = node.processType;
  const cls = processType === null ? undefined : processClassRegistry.find(processType);
  if (cls === undefined) {
    throw new NotExistentError(
      `no process class is registered as \`${String(processType)}\`: import the module defining it first`,
    );
  }
  const links = await node.base.links.getIncoming({ linkType: [LinkType.INPUT_CALC, LinkType.INPUT_WORK] });
  const inputs = nestByLabel(links.all().map((link) => [link.linkLabel, link.node] as const));
  const metadata = node.metadataInputs;
  if (isPlainObject(metadata)) mergeInto(inputs, metadata);
  const builder = createBuilder(cls as unknown as EngineProcessClass & ProcessClass);
  builder._update(inputs);
  return builder;
}

function mergeInto(target: Record<string, unknown>, source: Readonly<Record<string, unknown>>): void {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    if (isPlainObject(existing) && isPlainObject(value)) mergeInto(existing, value);
    else target[key] = value;
  }
}
