import { z } from 'zod';
import { SpecError } from './errors.js';

/** Options of {@link ExitCode}. */
export interface ExitCodeOptions {
  readonly message?: string | null;
  /** A process that finished with this code must not be used as a cache source (aiida). */
  readonly invalidatesCache?: boolean;
}

/**
 * How a process ended: status 0 is success, anything else a failure with a message (aiida's `ExitCode`).
 * Immutable; `format` fills `{placeholder}`s of the message into a new code.
 */
export class ExitCode {
  readonly status: number;
  readonly message: string | null;
  readonly invalidatesCache: boolean;

  constructor(status = 0, options: ExitCodeOptions = {}) {
    if (!Number.isInteger(status))
      throw new SpecError(`an exit status must be an integer, got ${String(status)}`);
    if (status < 0) throw new SpecError(`an exit status cannot be negative, got ${status}`);
    this.status = status;
    this.message = options.message ?? null;
    this.invalidatesCache = options.invalidatesCache ?? false;
    Object.freeze(this);
  }

  /** A copy whose message has every `{name}` replaced by `params[name]`; a missing parameter is an error. */
  format(params: Readonly<Record<string, unknown>>): ExitCode {
    const template = this.message ?? '';
    const message = template.replace(/\{(\w+)\}/g, (_, name: string) => {
      if (!(name in params))
        throw new SpecError(`the exit message '${template}' needs the parameter '${name}'`);
      return String(params[name]);
    });
    return new ExitCode(this.status, { message, invalidatesCache: this.invalidatesCache });
  }

  equals(other: unknown): boolean {
    return (
      other instanceof ExitCode &&
      other.status === this.status &&
      other.message === this.message &&
      other.invalidatesCache === this.invalidatesCache
    );
  }

  toJSON(): ExitCodeJson {
    return {
      '!exit_code': { status: this.status, message: this.message, invalidates_cache: this.invalidatesCache },
    };
  }

  /** Recreates a code from {@link ExitCode.toJSON}'s output. */
  static fromJSON(json: ExitCodeJson): ExitCode {
    const { status, message, invalidates_cache } = json['!exit_code'];
    return new ExitCode(status, { message, invalidatesCache: invalidates_cache });
  }
}

export const exitCodeJsonSchema = z.object({
  '!exit_code': z.object({
    status: z.number().int().nonnegative(),
    message: z.string().nullable(),
    invalidates_cache: z.boolean(),
  }),
});
export type ExitCodeJson = z.infer<typeof exitCodeJsonSchema>;

/** An exit code registered in a spec under a label. */
export interface LabelledExitCode extends ExitCode {
  readonly label: string;
}

/** The exit codes of a spec, by label, with lookup by status. */
export class ExitCodes<L extends string = string> {
  readonly #byLabel = new Map<string, ExitCode & { label: string }>();

  /** Adds a code; labels and statuses must be unique. */
  add(status: number, label: string, message: string, options: Omit<ExitCodeOptions, 'message'> = {}): void {
    if (typeof label !== 'string' || label === '')
      throw new SpecError('an exit code label must be a non-empty string');
    if (typeof message !== 'string')
      throw new SpecError(`the message of exit code '${label}' must be a string`);
    const code = Object.assign(
      Object.create(ExitCode.prototype) as object,
      new ExitCode(status, { ...options, message }),
      { label },
    );
    Object.freeze(code);
    this.#byLabel.set(label, code);
  }

  /** The code with this label; throws {@link SpecError} for an unknown label. */
  get(label: L): LabelledExitCode {
    const code = this.#byLabel.get(label);
    if (code === undefined) throw new SpecError(`no exit code with label '${label}'`);
    return code;
  }

  /** The code with this status, if any. */
  byStatus(status: number): LabelledExitCode | undefined {
    for (const code of this.#byLabel.values()) if (code.status === status) return code;
    return undefined;
  }

  has(label: string): boolean {
    return this.#byLabel.has(label);
  }

  labels(): L[] {
    return [...this.#byLabel.keys()] as L[];
  }

  /** The codes as a frozen record by label, for `Cls.exitCodes.LABEL`. */
  toRecord(): Readonly<Record<L, LabelledExitCode>> {
    return Object.freeze(Object.fromEntries(this.#byLabel)) as Readonly<Record<L, LabelledExitCode>>;
  }

  clone(): ExitCodes<L> {
    const copy = new ExitCodes<L>();
    for (const [label, code] of this.#byLabel) copy.#byLabel.set(label, code);
    return copy;
  }
}
