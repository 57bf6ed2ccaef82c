import path from 'node:path';
import { FileNotFoundError, IsADirectoryError, NotExistentError, ValidationError } from '../../../errors.js';
import type { ListdirEntry, Transport } from '../../../transports/transport.js';
import type { Computer } from '../../entities/computer.js';
import type { NodeOptions } from '../node.js';
import { registerNodeClass } from '../registry.js';
import { Data } from './data.js';

/**
 * A folder on a computer (`data.core.remote.RemoteData.`): the computer and the absolute `remote_path`.
 * Reading the folder goes through the computer's transport (`computer.getTransport()`).
 */
export class RemoteData extends Data {
  constructor(
    init?: { readonly computer: Computer; readonly remotePath: string },
    options: NodeOptions = {},
  ) {
    super(undefined, init === undefined ? options : { ...options, computer: init.computer });
    if (this.isStored || init === undefined) return;
    this.setRemotePath(init.remotePath);
  }

  getRemotePath(): string {
    return this.base.attributes.get('remote_path') as string;
  }

  setRemotePath(remotePath: string): void {
    if (typeof remotePath !== 'string' || !remotePath.startsWith('/')) {
      throw new ValidationError(`the remote path must be absolute, got \`${String(remotePath)}\``);
    }
    this.base.attributes.set('remote_path', remotePath);
  }

  /**
   * The absolute path of `relpath` inside the folder. `relpath` must stay inside it: an absolute path or one that
   * climbs out with `..` is a `ValidationError`.
   */
  resolvePath(relpath = '.'): string {
    if (path.posix.isAbsolute(relpath))
      throw new ValidationError(`\`${relpath}\` is absolute: give a path relative to the remote folder`);
    const normalized = path.posix.normalize(relpath);
    if (normalized === '..' || normalized.startsWith('../'))
      throw new ValidationError(`\`${relpath}\` leaves the remote folder`);
    return normalized === '.' ? this.getRemotePath() : path.posix.join(this.getRemotePath(), normalized);
  }

  /**
   * Runs `action` with an open transport to the folder's computer (for the default user), closed afterwards; or
   * with `transport` when one is given (left open). `NotExistentError` when the node has no computer.
   */
  async withTransport<T>(action: (transport: Transport) => Promise<T>, transport?: Transport): Promise<T> {
    if (transport !== undefined) return action(transport);
    const computer = await this.getComputer();
    if (computer === null) throw new NotExistentError(`RemoteData<${String(this.pk)}> has no computer`);
    const opened = await computer.openTransport();
    try {
      return await action(opened);
    } finally {
      await opened.close();
    }
  }

  async #requireDirectory(transport: Transport, full: string, relpath: string): Promise<void> {
    if (await transport.isdir(full)) return;
    if (await transport.pathExists(full))
      throw new ValidationError(`\`${relpath}\` in the remote folder is not a directory`);
    const computer = await this.getComputer();
    throw new FileNotFoundError(
      `the remote folder ${full} on ${computer?.label ?? 'its computer'} does not exist, is not a directory or ` +
        'has been deleted',
    );
  }

  /** The names in the folder (or its sub-folder `relpath`), sorted (aiida's `RemoteData.listdir`). */
  async listdir(relpath = '.', transport?: Transport): Promise<string[]> {
    const full = this.resolvePath(relpath);
    return this.withTransport(async (t) => {
      await this.#requireDirectory(t, full, relpath);
      return (await t.listdir(full)).sort();
    }, transport);
  }

  /** The entries of the folder (or `relpath`) with their attributes, sorted by name. */
  async listdirWithAttributes(relpath = '.', transport?: Transport): Promise<ListdirEntry[]> {
    const full = this.resolvePath(relpath);
    return this.withTransport(async (t) => {
      await this.#requireDirectory(t, full, relpath);
      return (await t.listdirWithAttributes(full)).sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      );
    }, transport);
  }

  /**
   * Copies the file `relpath` of the folder to the local `destpath`. `FileNotFoundError` when it does not exist,
   * `IsADirectoryError` when it is a folder.
   */
  async getfile(relpath: string, destpath: string, transport?: Transport): Promise<void> {
    const full = this.resolvePath(relpath);
    await this.withTransport(async (t) => {
      if (await t.isdir(full))
        throw new IsADirectoryError(
          `\`${relpath}\` is a directory in the remote folder ${this.getRemotePath()}`,
        );
      if (!(await t.isfile(full)))
        throw new FileNotFoundError(
          `the file \`${relpath}\` does not exist in the remote folder ${this.getRemotePath()}`,
        );
      await t.getfile(full, destpath);
    }, transport);
  }

  /** Whether the folder is empty or gone (aiida's `is_empty`). */
  async isEmpty(transport?: Transport): Promise<boolean> {
    return this.withTransport(async (t) => {
      if (!(await t.isdir(this.getRemotePath()))) return true;
      return (await t.listdir(this.getRemotePath())).length === 0;
    }, transport);
  }

  /**
   * The bytes the folder (or `relpath` in it) takes: the sum of the sizes of the files below it, symlinks not
   * followed (aiida's `get_size_on_disk` with the `stat` method).
   */
  async getSizeOnDisk(relpath = '.', transport?: Transport): Promise<number> {
    const full = this.resolvePath(relpath);
    return this.withTransport(async (t) => {
      if (!(await t.pathExists(full)))
        throw new FileNotFoundError(`the path \`${relpath}\` does not exist in the remote folder`);
      const walk = async (dir: string): Promise<number> => {
        let total = 0;
        for (const entry of await t.listdirWithAttributes(dir)) {
          const isLink = (entry.attributes.stMode & 0o170000) === 0o120000;
          if (entry.isdir && !isLink) total += await walk(path.posix.join(dir, entry.name));
          else total += entry.attributes.stSize;
        }
        return total;
      };
      return (await t.isdir(full)) ? walk(full) : (await t.getAttribute(full)).stSize;
    }, transport);
  }

  /**
   * Deletes the folder's content on the computer and records it with the extra `cleaned` (aiida's `_clean`). The
   * folder itself stays, emptied. A folder already gone counts as cleaned.
   */
  async clean(transport?: Transport): Promise<void> {
    const full = this.getRemotePath();
    await this.withTransport(async (t) => {
      if (await t.isdir(full)) {
        for (const name of await t.listdir(full)) {
          const item = path.posix.join(full, name);
          if (await t.isdir(item)) await t.rmtree(item);
          else await t.remove(item);
        }
      }
    }, transport);
    await this.base.extras.set('cleaned', true);
  }

  /** Whether {@link clean} emptied the folder. */
  get isCleaned(): boolean {
    return this.base.extras.get('cleaned', false) === true;
  }

  protected override async validateBeforeStore(): Promise<void> {
    await super.validateBeforeStore();
    if (this.computerId === null && (await this.getComputer()) === null) {
      throw new ValidationError('a RemoteData needs a computer');
    }
    if (!this.base.attributes.has('remote_path'))
      throw new ValidationError('a RemoteData needs a remote_path');
  }
}
registerNodeClass(RemoteData, { group: 'aiida.data', name: 'core.remote', className: 'RemoteData' });
