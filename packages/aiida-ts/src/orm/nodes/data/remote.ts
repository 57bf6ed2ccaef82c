import { ValidationError } from '../../../errors.js';
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
