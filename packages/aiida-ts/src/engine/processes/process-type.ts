import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ClassNotFoundError,
  Process as PlumpyProcess,
  type LoadableClass,
  type ObjectLoader,
} from 'plumpy-ts';

/** Where a process class or function was defined. */
export interface SourceLocation {
  /** Absolute path of the file. */
  readonly file: string;
  /** 1-based line. */
  readonly line: number;
  readonly column: number;
}

const ENGINE_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
const PACKAGE_DIR = dirname(dirname(ENGINE_DIR));
// With source maps enabled (verdi enables them) a frame of the built engine names its source file instead. The
// bundled `verdi` (its script in dist/bin, its ES modules in dist/bundle, see scripts/bundle-verdi.ts) holds the
// engine too.
const ENGINE_DIRS = [
  ENGINE_DIR,
  join(PACKAGE_DIR, 'src', 'engine'),
  join(PACKAGE_DIR, 'dist', 'engine'),
  join(PACKAGE_DIR, 'dist', 'bin'),
  join(PACKAGE_DIR, 'dist', 'bundle'),
];
const FRAME = /^\s*at (?:.*? \()?(.+?):(\d+):(\d+)\)?$/;

function isInternal(file: string): boolean {
  return (
    file.startsWith('node:') ||
    ENGINE_DIRS.some((dir) => file.startsWith(dir)) ||
    file.includes('/plumpy-ts/') ||
    file.includes('/node_modules/') ||
    file === '<anonymous>' ||
    file.startsWith('native')
  );
}

/**
 * The first place on the current call stack outside the engine (and plumpy-ts): the user's module that defines a
 * process class or wraps a process function. Undefined when the stack does not tell (eval, bundled code).
 */
export function callerLocation(): SourceLocation | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  for (const line of stack.split('\n').slice(1)) {
    const match = FRAME.exec(line);
    if (match === null) continue;
    let file = match[1] ?? '';
    if (file.startsWith('file://')) {
      try {
        file = fileURLToPath(file);
      } catch {
        continue;
      }
    }
    if (isInternal(file)) continue;
    return { file, line: Number(match[2]), column: Number(match[3]) };
  }
  return undefined;
}

/**
 * The module name a process type starts with: the file's name without its extension, made a dotted-name part
 * (`fixture_defs.ts` → `fixture_defs`), so that process types look like aiida's `<module>.<name>` and stay the same
 * wherever the script is run from.
 */
export function moduleNameOf(location: SourceLocation | undefined): string {
  if (location === undefined) return '__main__';
  let name = basename(location.file, extname(location.file));
  // `foo.test.ts` → `foo_test`: a dotted process type has its module and name split at the last dot only.
  name = name.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

const definitions = new WeakMap<object, SourceLocation | undefined>();

/** Remembers where a process class (or function) was defined: its module names its process type. */
export function recordDefinition(cls: object, location: SourceLocation | undefined): void {
  definitions.set(cls, location);
}

/** Where `cls` or the nearest class it extends was defined (by `define`). */
export function definitionOf(cls: object): SourceLocation | undefined {
  for (let current: unknown = cls; typeof current === 'function'; current = Object.getPrototypeOf(current)) {
    if (definitions.has(current)) return definitions.get(current);
  }
  return undefined;
}

/**
 * Makes `cls.define(...)` (plumpy-ts's) also remember the module of the caller, which names the process types of the
 * classes defined that way. Installed as an own static property so that plumpy's typing of `define` is kept as is.
 */
export function recordDefinitionsOf(cls: object): void {
  const original = Reflect.get(PlumpyProcess, 'define') as (this: unknown, build: unknown) => object;
  Object.defineProperty(cls, 'define', {
    configurable: true,
    writable: true,
    value: function define(this: unknown, build: unknown): object {
      const location = callerLocation();
      const defined = original.call(this, build);
      recordDefinition(defined, location);
      return defined;
    },
  });
}

/** The `<module>.<ClassName>` process type of a class (aiida's `build_process_type` without entry point). */
export function defaultProcessType(cls: { readonly name: string }): string {
  return `${moduleNameOf(definitionOf(cls))}.${cls.name}`;
}

/** A class the registry can identify: aiida-ts process classes know their own process type. */
interface TypedClass {
  buildProcessType?(): string;
}

/**
 * Maps process classes to their process type (the node's `process_type`, aiida's entry point string or
 * `<module>.<name>`) and back: checkpoints name their class with it, and `node.processClass` finds the class of a node.
 * A class is registered when first identified (every process identifies its class when it is created); the latest
 * class registered under a process type wins.
 */
export class ProcessClassRegistry implements ObjectLoader {
  readonly #byType = new Map<string, LoadableClass>();

  /** Registers `cls` under its process type (or `identifier`); returns the identifier. */
  register(cls: LoadableClass, identifier?: string): string {
    const id = identifier ?? this.#typeOf(cls);
    this.#byType.set(id, cls);
    return id;
  }

  #typeOf(cls: LoadableClass): string {
    const typed = cls as unknown as TypedClass;
    return typeof typed.buildProcessType === 'function' ? typed.buildProcessType() : cls.name;
  }

  identifyObject(cls: LoadableClass): string {
    const id = this.#typeOf(cls);
    if (this.#byType.get(id) !== cls) this.#byType.set(id, cls);
    return id;
  }

  loadObject(identifier: string): LoadableClass {
    const cls = this.#byType.get(identifier);
    if (cls === undefined) {
      throw new ClassNotFoundError(
        `no process class is registered as '${identifier}': import the module that defines it before continuing the process`,
      );
    }
    return cls;
  }

  /** The class registered under a process type, if any. */
  find(identifier: string): LoadableClass | undefined {
    return this.#byType.get(identifier);
  }
}

/** The registry every aiida-ts process class is identified with. */
export const processClassRegistry = new ProcessClassRegistry();
