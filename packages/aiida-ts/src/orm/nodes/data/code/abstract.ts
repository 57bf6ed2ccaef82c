import { ValidationError } from '../../../../errors.js';
import type { Computer } from '../../../entities/computer.js';
import { Node, type NodeOptions } from '../../node.js';
import { Data } from '../data.js';

/** The attribute keys every code stores, as aiida-core names them (`input_plugin` is aiida's legacy name). */
export const CodeAttribute = {
  DEFAULT_CALC_JOB_PLUGIN: 'input_plugin',
  APPEND_TEXT: 'append_text',
  PREPEND_TEXT: 'prepend_text',
  USE_DOUBLE_QUOTES: 'use_double_quotes',
  WITH_MPI: 'with_mpi',
  WRAP_CMDLINE_PARAMS: 'wrap_cmdline_params',
  FILEPATH_EXECUTABLE: 'filepath_executable',
} as const;

/** The extra that hides a code from `verdi code list` (aiida's `hidden`). */
export const CODE_HIDDEN_EXTRA = 'hidden';

/** The settings every code has (aiida's `AbstractCode` constructor arguments). */
export interface AbstractCodeInit {
  /** Entry point name of the `CalcJob` plugin the code runs by default (`core.arithmetic.add`). */
  readonly defaultCalcJobPlugin?: string | null;
  /** Bash lines put after the run line of the code in submission scripts. */
  readonly appendText?: string;
  /** Bash lines put before the run line of the code in submission scripts. */
  readonly prependText?: string;
  /** Quote the executable and its arguments with double quotes instead of single quotes. */
  readonly useDoubleQuotes?: boolean;
  /** Run through the computer's mpirun command (true), never (false), or let the calculation decide (null). */
  readonly withMpi?: boolean | null;
  /** Hide the code from `verdi code list` (the `hidden` extra). */
  readonly isHidden?: boolean;
  /** Wrap the executable and its arguments into one quoted argument (needed by container engines). */
  readonly wrapCmdlineParams?: boolean;
}

/** A code label may not contain `@`, which separates it from the computer in a full label. */
export function validateCodeLabel(label: unknown): string {
  if (typeof label !== 'string')
    throw new ValidationError(`a code label must be a string, got ${typeof label}`);
  if (label.includes('@'))
    throw new ValidationError(`The label \`${label}\` contains a \`@\` symbol, which is not allowed.`);
  return label;
}

function checkType(key: string, value: unknown, type: 'string' | 'boolean', nullable: boolean): void {
  if (value === null && nullable) return;
  if (typeof value !== type) {
    throw new ValidationError(
      `the \`${key}\` of a code must be a ${type}${nullable ? ' or null' : ''}, got ${JSON.stringify(value)}`,
    );
  }
}

/**
 * An executable that calculation jobs run (aiida's `AbstractCode`): the settings of its run line (default
 * `CalcJob` plugin, prepend/append text, quoting, MPI) as attributes and the `hidden` flag as an extra.
 * Subclasses say where the executable lives: {@link InstalledCode} on one computer, {@link PortableCode} in
 * the node's files, uploaded with each job. Attributes are immutable once stored; the hidden flag is not.
 */
export abstract class AbstractCode extends Data {
  constructor(init?: AbstractCodeInit, options: NodeOptions = {}) {
    super(undefined, options);
    if (this.isStored || init === undefined) return;
    if (options.label !== undefined) validateCodeLabel(options.label);
    // aiida sets these in this order: stored attributes keep it, and so does the node hash.
    this.defaultCalcJobPlugin = init.defaultCalcJobPlugin ?? null;
    this.appendText = init.appendText ?? '';
    this.prependText = init.prependText ?? '';
    this.useDoubleQuotes = init.useDoubleQuotes ?? false;
    this.withMpi = init.withMpi ?? null;
    this.wrapCmdlineParams = init.wrapCmdlineParams ?? false;
    const hidden = init.isHidden ?? false;
    checkType('is_hidden', hidden, 'boolean', false);
    // An unstored node's extras are plain memory: set synchronously, stored with the node.
    Node.internalState(this).extras[CODE_HIDDEN_EXTRA] = hidden;
  }

  override get label(): string {
    return super.label;
  }
  /** Only on unstored codes; `ValidationError` for a label with `@`. */
  override set label(value: string) {
    super.label = validateCodeLabel(value);
  }

  /** Sets the label (also of a stored code); `ValidationError` for a label with `@`. */
  override async setLabel(value: string): Promise<void> {
    await super.setLabel(validateCodeLabel(value));
  }

  /** Entry point name of the default `CalcJob` plugin (attribute `input_plugin`), or null. */
  get defaultCalcJobPlugin(): string | null {
    return (this.base.attributes.get(CodeAttribute.DEFAULT_CALC_JOB_PLUGIN, null) as string | null) ?? null;
  }
  set defaultCalcJobPlugin(value: string | null) {
    checkType('default_calc_job_plugin', value, 'string', true);
    this.base.attributes.set(CodeAttribute.DEFAULT_CALC_JOB_PLUGIN, value);
  }

  get appendText(): string {
    return (this.base.attributes.get(CodeAttribute.APPEND_TEXT, '') as string | null) ?? '';
  }
  set appendText(value: string) {
    checkType('append_text', value, 'string', false);
    this.base.attributes.set(CodeAttribute.APPEND_TEXT, value);
  }

  get prependText(): string {
    return (this.base.attributes.get(CodeAttribute.PREPEND_TEXT, '') as string | null) ?? '';
  }
  set prependText(value: string) {
    checkType('prepend_text', value, 'string', false);
    this.base.attributes.set(CodeAttribute.PREPEND_TEXT, value);
  }

  get useDoubleQuotes(): boolean {
    return this.base.attributes.get(CodeAttribute.USE_DOUBLE_QUOTES, false) as boolean;
  }
  set useDoubleQuotes(value: boolean) {
    checkType('use_double_quotes', value, 'boolean', false);
    this.base.attributes.set(CodeAttribute.USE_DOUBLE_QUOTES, value);
  }

  /** True: always with MPI; false: never; null: as the calculation's options say. */
  get withMpi(): boolean | null {
    return (this.base.attributes.get(CodeAttribute.WITH_MPI, null) as boolean | null) ?? null;
  }
  set withMpi(value: boolean | null) {
    checkType('with_mpi', value, 'boolean', true);
    this.base.attributes.set(CodeAttribute.WITH_MPI, value);
  }

  get wrapCmdlineParams(): boolean {
    return this.base.attributes.get(CodeAttribute.WRAP_CMDLINE_PARAMS, false) as boolean;
  }
  set wrapCmdlineParams(value: boolean) {
    checkType('wrap_cmdline_params', value, 'boolean', false);
    this.base.attributes.set(CodeAttribute.WRAP_CMDLINE_PARAMS, value);
  }

  /** Whether `verdi code list` leaves the code out (the `hidden` extra; false when unset). */
  get isHidden(): boolean {
    return this.base.extras.get(CODE_HIDDEN_EXTRA, false) === true;
  }

  /** Sets the `hidden` extra; saved at once on a stored code. */
  async setHidden(value: boolean): Promise<void> {
    checkType('is_hidden', value, 'boolean', false);
    await this.base.extras.set(CODE_HIDDEN_EXTRA, value);
  }

  /** Hides the code from `verdi code list`. */
  hide(): Promise<void> {
    return this.setHidden(true);
  }

  /** Shows the code in `verdi code list` again. */
  reveal(): Promise<void> {
    return this.setHidden(false);
  }

  /** Whether the code can run on `computer`. */
  abstract canRunOnComputer(computer: Computer): boolean;

  /** The executable the submission script calls. */
  abstract getExecutable(): string;

  /**
   * The label that names the code uniquely: `label@computer` for an installed code, the label for a portable
   * one. Needs the computer loaded (codes from {@link loadCode} have it); {@link getFullLabel} always works.
   */
  abstract get fullLabel(): string;

  /** {@link fullLabel}, loading the computer first when needed. */
  getFullLabel(): Promise<string> {
    return Promise.resolve(this.fullLabel);
  }

  /** The executable followed by the command line parameters a `CalcJob` plugin gives. */
  getExecutableCmdlineParams(cmdlineParams: readonly string[] = []): string[] {
    return [this.getExecutable(), ...cmdlineParams];
  }

  /**
   * The words of the run line before the executable: the computer's formatted mpirun command, then the
   * calculation's extra mpirun parameters (aiida's `get_prepend_cmdline_params`).
   */
  getPrependCmdlineParams(
    mpiArgs: readonly string[] = [],
    extraMpirunParams: readonly string[] = [],
  ): string[] {
    return [...mpiArgs, ...extraMpirunParams];
  }

  /**
   * Checks the files a `CalcJob` plugin wrote for the working directory (their relative paths); throws a
   * `ValidationError` when they clash with the code. Nothing to check by default.
   */
  validateWorkingDirectory(filePaths: readonly string[]): void {
    void filePaths;
  }

  /**
   * The settings of the code as `verdi code create <type> --config FILE` reads them back (aiida's CLI model:
   * snake_case keys, `with_mpi` left out when null).
   */
  toCliConfig(): Record<string, unknown> {
    const config: Record<string, unknown> = {
      label: this.label,
      description: this.description,
      default_calc_job_plugin: this.defaultCalcJobPlugin,
      use_double_quotes: this.useDoubleQuotes,
      with_mpi: this.withMpi,
      wrap_cmdline_params: this.wrapCmdlineParams,
      prepend_text: this.prependText,
      append_text: this.appendText,
    };
    for (const [key, value] of Object.entries(config)) if (value === null) delete config[key];
    return config;
  }
}
