import { ClassNotFoundError, SpecError } from './errors.js';

/** A class that a loader can identify and load (process classes, in practice). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LoadableClass = abstract new (...args: any[]) => unknown;

/**
 * Maps classes to string identifiers and back, so that a checkpoint or a launch task can name the class of
 * a process (plumpy's `ObjectLoader`; aiida-ts maps entry points here).
 */
export interface ObjectLoader {
  /** The identifier of `cls`; throws if the loader cannot identify it. */
  identifyObject(cls: LoadableClass): string;
  /** The class with this identifier; throws {@link ClassNotFoundError} if there is none. */
  loadObject(identifier: string): LoadableClass;
}

/** Options of {@link ClassRegistry.register}. */
export interface RegisterOptions {
  /** The identifier (default: the class's `name`). */
  readonly identifier?: string;
}

/**
 * A registry of classes by identifier. Register every class that must be loadable in another JS process
 * (a worker continuing a checkpoint) under a stable identifier. A class identified without having been
 * registered is registered under its name (or `Name~2`, ... when the name is taken), which is stable only
 * within one JS process.
 */
export class ClassRegistry implements ObjectLoader {
  readonly #byId = new Map<string, LoadableClass>();
  readonly #byClass = new Map<LoadableClass, string>();

  /** Registers `cls`; an identifier already used by another class is an error. Returns the identifier. */
  register(cls: LoadableClass, options: RegisterOptions = {}): string {
    const identifier = options.identifier ?? cls.name;
    if (identifier === '') throw new SpecError('a class without a name needs an explicit identifier');
    const existing = this.#byId.get(identifier);
    if (existing !== undefined && existing !== cls) {
      throw new SpecError(`the identifier '${identifier}' is already registered for another class`);
    }
    const previous = this.#byClass.get(cls);
    if (previous !== undefined && previous !== identifier) this.#byId.delete(previous);
    this.#byId.set(identifier, cls);
    this.#byClass.set(cls, identifier);
    return identifier;
  }

  /** Removes a class; true if it was registered. */
  unregister(cls: LoadableClass): boolean {
    const identifier = this.#byClass.get(cls);
    if (identifier === undefined) return false;
    this.#byClass.delete(cls);
    this.#byId.delete(identifier);
    return true;
  }

  has(identifier: string): boolean {
    return this.#byId.has(identifier);
  }

  identifyObject(cls: LoadableClass): string {
    const known = this.#byClass.get(cls);
    if (known !== undefined) return known;
    const base = cls.name === '' ? 'AnonymousProcess' : cls.name;
    let identifier = base;
    for (let n = 2; this.#byId.has(identifier); n += 1) identifier = `${base}~${n}`;
    return this.register(cls, { identifier });
  }

  loadObject(identifier: string): LoadableClass {
    const cls = this.#byId.get(identifier);
    if (cls === undefined) throw new ClassNotFoundError(`no class is registered as '${identifier}'`);
    return cls;
  }
}

let defaultLoader: ObjectLoader = new ClassRegistry();

/** The loader used when none is given (plumpy's `get_object_loader`). */
export function getObjectLoader(): ObjectLoader {
  return defaultLoader;
}

/** Replaces the default loader (plumpy's `set_object_loader`); returns the previous one. */
export function setObjectLoader(loader: ObjectLoader): ObjectLoader {
  const previous = defaultLoader;
  defaultLoader = loader;
  return previous;
}

/** Registers `cls` with the default loader, which must be a {@link ClassRegistry}. Returns the identifier. */
export function registerProcessClass(cls: LoadableClass, options: RegisterOptions = {}): string {
  const loader = defaultLoader;
  if (!(loader instanceof ClassRegistry))
    throw new SpecError('the default object loader is not a ClassRegistry');
  return loader.register(cls, options);
}
