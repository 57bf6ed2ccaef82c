import { PersistenceError } from './errors.js';

/**
 * How deep values in a checkpoint may nest. Deeper is almost always a reference cycle (which would otherwise end in
 * a bare "Maximum call stack size exceeded"), and no real context nests this far.
 */
export const MAX_CHECKPOINT_DEPTH = 256;

type PathPart = string | number;

function formatPath(path: readonly PathPart[]): string {
  const parts = path.map((part, index) =>
    typeof part === 'number'
      ? `[${part}]`
      : /^[A-Za-z_$][\w$]*$/.test(part)
        ? `${index === 0 ? '' : '.'}${part}`
        : `[${JSON.stringify(part)}]`,
  );
  if (parts.length <= 12) return parts.join('');
  return `${parts.slice(0, 6).join('')}…(${parts.length - 9} levels)…${parts.slice(-3).join('')}`;
}

/**
 * A value of a checkpoint that cannot be encoded, and where it sits (`ctx.results[2]`); the message says both, and
 * grows its path as the error travels up through the containers that hold the value.
 */
export class UnencodableValueError extends PersistenceError {
  readonly path: PathPart[];
  readonly reason: string;

  constructor(reason: string, path: PathPart[] = [], options?: ErrorOptions) {
    super(reason, undefined, options);
    this.reason = reason;
    this.path = path;
  }

  /** Puts `part` in front of the path (called by each container on the way up). */
  within(part: PathPart): this {
    this.path.unshift(part);
    this.message = `${formatPath(this.path)}: ${this.reason}`;
    return this;
  }
}

/** Runs the encoding of the value at `part` of its container, so that a failure names its place. */
export function encodeAt<T>(part: PathPart, encode: () => T): T {
  try {
    return encode();
  } catch (error) {
    if (error instanceof UnencodableValueError) throw error.within(part);
    // an override of encodeValue failed in its own way: keep its error as the cause
    const reason = error instanceof Error ? error.message : String(error);
    throw new UnencodableValueError(reason, [], { cause: error }).within(part);
  }
}

let depth = 0;

/** Encodes one container level, refusing nesting deeper than {@link MAX_CHECKPOINT_DEPTH} (encoding is synchronous). */
export function encodeContainer<T>(encode: () => T): T {
  depth += 1;
  try {
    if (depth > MAX_CHECKPOINT_DEPTH) {
      throw new UnencodableValueError(
        `values nest deeper than ${MAX_CHECKPOINT_DEPTH} levels (does the value refer to itself?)`,
      );
    }
    return encode();
  } finally {
    depth -= 1;
  }
}
