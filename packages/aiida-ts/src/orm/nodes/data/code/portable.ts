import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ValidationError } from '../../../../errors.js';
import type { Transport } from '../../../../transports/transport.js';
import type { Computer } from '../../../entities/computer.js';
import type { NodeOptions } from '../../node.js';
import { registerNodeClass } from '../../registry.js';
import { AbstractCode, CodeAttribute, type AbstractCodeInit } from './abstract.js';

/** The fields of a new {@link PortableCode}. */
export interface PortableCodeInit extends AbstractCodeInit {
  /** The executable's path relative to the code's files (`bin/run.sh`). */
  readonly filepathExecutable: string;
}

/** The fields of {@link PortableCode.fromFiles}. */
export interface PortableCodeFromFilesInit extends PortableCodeInit {
  /** A local directory whose whole content becomes the code's files. */
  readonly filepathFiles: string;
}

/** The executable path without `./` segments, as Python's `PurePath` normalises it. */
function normaliseRelative(executable: string): string {
  return executable
    .split('/')
    .filter((part) => part !== '' && part !== '.')
    .join('/');
}

/**
 * An executable stored with its files in the node's repository (`data.core.code.portable.PortableCode.`):
 * each calculation job uploads the files into its working directory and runs the executable from there, so
 * the code runs on any computer. Put the files with {@link PortableCode.fromFiles} or through `repository`.
 */
export class PortableCode extends AbstractCode {
  constructor(init?: PortableCodeInit, options: NodeOptions = {}) {
    super(init, options);
    if (this.isStored || init === undefined) return;
    this.filepathExecutable = init.filepathExecutable;
  }

  /**
   * A code whose files are a copy of the local directory `filepathFiles`.
   *
   * @throws ValidationError when the directory does not exist or is not a directory.
   */
  static async fromFiles(init: PortableCodeFromFilesInit, options: NodeOptions = {}): Promise<PortableCode> {
    const directory = init.filepathFiles;
    if (typeof directory !== 'string' || directory === '') {
      throw new ValidationError(`the \`filepath_files\` must be a path, got ${JSON.stringify(directory)}`);
    }
    const info = await stat(directory).catch(() => undefined);
    if (info === undefined) throw new ValidationError(`The filepath \`${directory}\` does not exist.`);
    if (!info.isDirectory()) throw new ValidationError(`The filepath \`${directory}\` is not a directory.`);
    const code = new this(init, options);
    await code.repository.putObjectFromTree(path.resolve(directory));
    return code;
  }

  /** The executable's path relative to the code's files. */
  get filepathExecutable(): string {
    return this.base.attributes.get(CodeAttribute.FILEPATH_EXECUTABLE) as string;
  }
  /** Only on unstored codes; an absolute path is refused. */
  set filepathExecutable(value: string) {
    if (typeof value !== 'string' || normaliseRelative(value) === '') {
      throw new ValidationError(
        `the \`filepath_executable\` must be a relative file path, got ${JSON.stringify(value)}`,
      );
    }
    if (path.posix.isAbsolute(value))
      throw new ValidationError('The `filepath_executable` should not be absolute.');
    this.base.attributes.set(CodeAttribute.FILEPATH_EXECUTABLE, value);
  }

  /** The label alone: a portable code belongs to no computer. */
  get fullLabel(): string {
    return this.label;
  }

  /** Any computer. */
  canRunOnComputer(computer: Computer): boolean {
    void computer;
    return true;
  }

  getExecutable(): string {
    return normaliseRelative(this.filepathExecutable);
  }

  /** The executable gets `./` when it sits in the top folder, since the working directory is not on `PATH`. */
  override getExecutableCmdlineParams(cmdlineParams: readonly string[] = []): string[] {
    const executable = this.getExecutable();
    return [executable.includes('/') ? executable : `./${executable}`, ...cmdlineParams];
  }

  /** A file the plugin wrote must not replace the executable. */
  override validateWorkingDirectory(filePaths: readonly string[]): void {
    const executable = this.getExecutable();
    if (filePaths.some((file) => normaliseRelative(file) === executable)) {
      throw new ValidationError(`The plugin created a file ${executable} that is also the executable name!`);
    }
  }

  protected override async validateBeforeStore(): Promise<void> {
    await super.validateBeforeStore();
    if (!this.base.attributes.has(CodeAttribute.FILEPATH_EXECUTABLE)) {
      throw new ValidationError('The `filepath_executable` is not set.');
    }
    const executable = this.getExecutable();
    if (!this.repository.hasObject(executable) || !this.repository.getObject(executable).isFile()) {
      throw new ValidationError(
        `The executable \`${executable}\` is not one of the uploaded files in the node repository.`,
      );
    }
  }

  /**
   * Uploads every file and folder of the code into `remoteDir` on the computer of the (open) transport, then
   * makes the executable `rwxr-xr-x`, as the engine does before submitting a job. Existing files are replaced.
   */
  async uploadFiles(transport: Transport, remoteDir: string): Promise<void> {
    if (!path.posix.isAbsolute(remoteDir)) {
      throw new ValidationError(`the remote directory must be absolute, got \`${remoteDir}\``);
    }
    const local = await mkdtemp(path.join(tmpdir(), 'aiida-ts-code-'));
    try {
      await this.repository.copyTree(local);
      await transport.makedirs(remoteDir, { ignoreExisting: true });
      const entries: { path: string; dirnames: readonly string[]; filenames: readonly string[] }[] = [];
      for await (const entry of this.repository.walk()) entries.push(entry);
      // walk() lists folders before their parents: create from the top down.
      entries.sort((a, b) => a.path.split('/').length - b.path.split('/').length);
      for (const entry of entries) {
        const remote = entry.path === '.' ? remoteDir : path.posix.join(remoteDir, entry.path);
        const localDir = entry.path === '.' ? local : path.join(local, entry.path);
        for (const dirname of entry.dirnames)
          await transport.makedirs(path.posix.join(remote, dirname), { ignoreExisting: true });
        for (const filename of entry.filenames)
          await transport.putfile(path.join(localDir, filename), path.posix.join(remote, filename));
      }
      await transport.chmod(path.posix.join(remoteDir, this.getExecutable()), 0o755);
    } finally {
      await rm(local, { recursive: true, force: true });
    }
  }

  /** Writes the code's files into the local directory `target` (created if missing). */
  async exportFiles(target: string): Promise<void> {
    await this.repository.copyTree(path.resolve(target));
  }

  override toCliConfig(): Record<string, unknown> {
    return { ...super.toCliConfig(), filepath_executable: this.filepathExecutable };
  }
}
registerNodeClass(PortableCode, {
  group: 'aiida.data',
  name: 'core.code.portable',
  className: 'PortableCode',
});
