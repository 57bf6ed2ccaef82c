import { ValidationError } from '../../../errors.js';
import type { Computer } from '../../entities/computer.js';
import type { NodeOptions } from '../node.js';
import { registerNodeClass } from '../registry.js';
import { Data } from './data.js';

/** The stash modes of aiida (`StashMode` values). */
const STASH_MODES = new Set(['copy', 'tar', 'tar.bz2', 'tar.gz', 'tar.xz', 'submit_custom_code']);

/** What every stash node is made from. */
export interface RemoteStashInit {
  readonly computer: Computer;
  /** The aiida `StashMode` value (`copy`, `tar`, `tar.gz`, …, `submit_custom_code`). */
  readonly stashMode: string;
  /** Where the stashed files are: a folder (copy mode) or the archive file (compress modes). */
  readonly targetBasepath: string;
  /** The relative paths (or globs) of the working directory that were stashed. */
  readonly sourceList: readonly string[];
}

/**
 * Files of a finished calculation job kept on its computer outside the scratch folder
 * (`data.core.remote.stash.RemoteStashData.`): the base of the stash nodes of each mode; not storable itself.
 */
export class RemoteStashData extends Data {
  static override readonly storable: boolean = false;
  static override readonly unstorableMessage: string =
    'RemoteStashData is a base class: store one of RemoteStashFolderData, RemoteStashCompressedData or RemoteStashCustomData';

  constructor(init?: RemoteStashInit, options: NodeOptions = {}) {
    super(undefined, init === undefined ? options : { ...options, computer: init.computer });
    if (this.isStored || init === undefined) return;
    if (!STASH_MODES.has(init.stashMode))
      throw new ValidationError(`invalid stash mode \`${init.stashMode}\``);
    if (!init.targetBasepath.startsWith('/'))
      throw new ValidationError(`the stash target must be an absolute path, got \`${init.targetBasepath}\``);
    this.base.attributes.set('stash_mode', init.stashMode);
    this.base.attributes.set('target_basepath', init.targetBasepath);
    this.base.attributes.set('source_list', [...init.sourceList]);
  }

  /** The aiida `StashMode` value. */
  get stashMode(): string {
    return this.base.attributes.get('stash_mode') as string;
  }
  /** The folder (or archive) holding the stashed files. */
  get targetBasepath(): string {
    return this.base.attributes.get('target_basepath') as string;
  }
  /** The relative paths (or globs) that were stashed. */
  get sourceList(): string[] {
    return [...(this.base.attributes.get('source_list', []) as string[])];
  }
}
registerNodeClass(RemoteStashData, {
  group: 'aiida.data',
  name: 'core.remote.stash',
  className: 'RemoteStashData',
});

/** A stash made by copying the files into a folder (`stash_mode` `copy`). */
export class RemoteStashFolderData extends RemoteStashData {
  static override readonly storable: boolean = true;

  constructor(init?: RemoteStashInit & { readonly failOnMissing?: boolean }, options: NodeOptions = {}) {
    super(init, options);
    if (this.isStored || init === undefined) return;
    this.base.attributes.set('fail_on_missing', init.failOnMissing ?? false);
  }

  get failOnMissing(): boolean {
    return this.base.attributes.get('fail_on_missing', false) as boolean;
  }
}
registerNodeClass(RemoteStashFolderData, {
  group: 'aiida.data',
  name: 'core.remote.stash.folder',
  className: 'RemoteStashFolderData',
});

/** A stash made as one archive (`stash_mode` `tar`, `tar.gz`, `tar.bz2` or `tar.xz`). */
export class RemoteStashCompressedData extends RemoteStashData {
  static override readonly storable: boolean = true;

  constructor(
    init?: RemoteStashInit & { readonly dereference: boolean; readonly failOnMissing?: boolean },
    options: NodeOptions = {},
  ) {
    super(init, options);
    if (this.isStored || init === undefined) return;
    this.base.attributes.set('dereference', init.dereference);
    this.base.attributes.set('fail_on_missing', init.failOnMissing ?? false);
  }

  get dereference(): boolean {
    return this.base.attributes.get('dereference', false) as boolean;
  }
  get failOnMissing(): boolean {
    return this.base.attributes.get('fail_on_missing', false) as boolean;
  }
}
registerNodeClass(RemoteStashCompressedData, {
  group: 'aiida.data',
  name: 'core.remote.stash.compress',
  className: 'RemoteStashCompressedData',
});

/** A stash made by a job the user submitted with a code of their own (`stash_mode` `submit_custom_code`). */
export class RemoteStashCustomData extends RemoteStashData {
  static override readonly storable: boolean = true;
}
registerNodeClass(RemoteStashCustomData, {
  group: 'aiida.data',
  name: 'core.remote.stash.custom',
  className: 'RemoteStashCustomData',
});
