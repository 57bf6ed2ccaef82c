import path from 'node:path';
import { InvalidOperationError, ValidationError } from '../../../../errors.js';
import { Computer } from '../../../entities/computer.js';
import { Node, type NodeOptions } from '../../node.js';
import { registerNodeClass } from '../../registry.js';
import { AbstractCode, CodeAttribute, type AbstractCodeInit } from './abstract.js';

/** The fields of a new {@link InstalledCode}. */
export interface InstalledCodeInit extends AbstractCodeInit {
  /** The stored computer the executable is installed on. */
  readonly computer: Computer;
  /** The executable's path on the computer (absolute, or a name found on the remote `PATH`). */
  readonly filepathExecutable: string;
}

/**
 * An executable installed on one computer (`data.core.code.installed.InstalledCode.`): the computer and the
 * path of the executable there (attribute `filepath_executable`). Calculations using it run on that computer.
 */
export class InstalledCode extends AbstractCode {
  constructor(init?: InstalledCodeInit, options: NodeOptions = {}) {
    if (init !== undefined && !(init.computer instanceof Computer)) {
      throw new ValidationError('an InstalledCode needs a `computer` (a Computer)');
    }
    super(init, init === undefined ? options : { ...options, computer: init.computer });
    if (this.isStored || init === undefined) return;
    this.filepathExecutable = init.filepathExecutable;
  }

  /** The executable's path on the computer. */
  get filepathExecutable(): string {
    return this.base.attributes.get(CodeAttribute.FILEPATH_EXECUTABLE) as string;
  }
  /** Only on unstored codes. */
  set filepathExecutable(value: string) {
    if (typeof value !== 'string' || value === '') {
      throw new ValidationError(
        `the \`filepath_executable\` must be a non-empty string, got ${JSON.stringify(value)}`,
      );
    }
    this.base.attributes.set(CodeAttribute.FILEPATH_EXECUTABLE, value);
  }

  /** The computer when it is loaded (always after construction or {@link loadCode}), else undefined. */
  get loadedComputer(): Computer | undefined {
    return Node.internalState(this).computer ?? undefined;
  }

  /** `label@computer`; `InvalidOperationError` when the computer is not loaded (see {@link getFullLabel}). */
  get fullLabel(): string {
    const computer = this.loadedComputer;
    if (computer === undefined) {
      throw new InvalidOperationError(
        `the computer of code<${String(this.pk)}> is not loaded: use \`await code.getFullLabel()\``,
      );
    }
    return `${this.label}@${computer.label}`;
  }

  override async getFullLabel(): Promise<string> {
    const computer = await this.getComputer();
    return `${this.label}@${computer?.label ?? ''}`;
  }

  /** Only on its own computer. */
  canRunOnComputer(computer: Computer): boolean {
    return computer.pk !== null && computer.pk === this.computerId;
  }

  getExecutable(): string {
    return this.filepathExecutable;
  }

  protected override async validateBeforeStore(): Promise<void> {
    await super.validateBeforeStore();
    if (this.computerId === null && (await this.getComputer()) === null) {
      throw new ValidationError('The `computer` is undefined.');
    }
    if (!this.base.attributes.has(CodeAttribute.FILEPATH_EXECUTABLE)) {
      throw new ValidationError('The `filepath_executable` is not set.');
    }
  }

  /**
   * Checks on the computer, through a transport of the default user, that the executable exists and its owner
   * may execute it (aiida's `validate_filepath_executable`). A relative path (looked up on `PATH` at run time)
   * is not checked. Not part of storing: a code may be set up before its computer can be reached.
   *
   * @throws ValidationError when no transport can be opened, the file does not exist, or it is not executable.
   */
  async validateFilepathExecutable(): Promise<void> {
    const executable = this.filepathExecutable;
    if (!path.posix.isAbsolute(executable)) return;
    const computer = await this.getComputer();
    if (computer === null) throw new ValidationError('The `computer` is undefined.');
    let exists = false;
    let executableByOwner = false;
    try {
      const transport = await computer.openTransport();
      try {
        exists = await transport.isfile(executable);
        if (exists) executableByOwner = ((await transport.getMode(executable)) & 0o100) !== 0;
      } finally {
        await transport.close();
      }
    } catch (error) {
      throw new ValidationError(
        `Could not connect to the configured computer to determine whether the specified executable exists: ${(error as Error).message}`,
        [],
        { cause: error },
      );
    }
    if (!exists) {
      throw new ValidationError(
        `The provided remote absolute path \`${executable}\` does not exist on the computer.`,
      );
    }
    if (!executableByOwner) {
      throw new ValidationError(
        `The file at the remote absolute path \`${executable}\` exists, but might not actually be executable. ` +
          'Check the permissions.',
      );
    }
  }

  override toCliConfig(): Record<string, unknown> {
    return {
      ...super.toCliConfig(),
      filepath_executable: this.filepathExecutable,
      computer: this.loadedComputer?.label ?? this.computerId,
    };
  }
}
registerNodeClass(InstalledCode, {
  group: 'aiida.data',
  name: 'core.code.installed',
  className: 'InstalledCode',
});
