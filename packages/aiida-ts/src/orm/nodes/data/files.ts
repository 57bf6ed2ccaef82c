import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError } from '../../../errors.js';
import type { NodeOptions } from '../node.js';
import { registerNodeClass } from '../registry.js';
import { Data } from './data.js';

/** The file name a {@link SinglefileData} gets when none is given (aiida-core's `DEFAULT_FILENAME`). */
export const SINGLEFILE_DEFAULT_FILENAME = 'file.txt';

function checkFilename(filename: string): string {
  if (
    typeof filename !== 'string' ||
    filename === '' ||
    filename.includes('/') ||
    filename === '.' ||
    filename === '..'
  ) {
    throw new ValidationError(
      `invalid file name \`${String(filename)}\`: a plain name without \`/\` is needed`,
    );
  }
  return filename;
}

/**
 * One file (`data.core.singlefile.SinglefileData.`): its name in the `filename` attribute, its content the only
 * object of the repository. Build with the async factories.
 */
export class SinglefileData extends Data {
  constructor(init?: undefined, options: NodeOptions = {}) {
    super(undefined, options);
  }

  /** A node holding `content` as `filename`. */
  static async fromBytes(
    content: Uint8Array,
    filename = SINGLEFILE_DEFAULT_FILENAME,
    options: NodeOptions = {},
  ): Promise<SinglefileData> {
    const node = new this(undefined, options);
    await node.setFile(content, filename);
    return node;
  }

  /** A node holding `text` (UTF-8) as `filename`. */
  static async fromString(
    text: string,
    filename = SINGLEFILE_DEFAULT_FILENAME,
    options: NodeOptions = {},
  ): Promise<SinglefileData> {
    return this.fromBytes(Buffer.from(text, 'utf8'), filename, options);
  }

  /** A node holding a copy of a local file, named as the file unless `filename` is given. */
  static async fromFile(
    filepath: string,
    filename?: string,
    options: NodeOptions = {},
  ): Promise<SinglefileData> {
    return this.fromBytes(await readFile(filepath), filename ?? path.basename(filepath), options);
  }

  /** Replaces the file (unstored only). */
  async setFile(content: Uint8Array | string, filename = SINGLEFILE_DEFAULT_FILENAME): Promise<void> {
    const name = checkFilename(filename);
    this.assertUnstored('file');
    await this.repository.erase();
    await this.repository.putObjectFromBuffer(name, content);
    this.base.attributes.set('filename', name);
  }

  get filename(): string {
    return this.base.attributes.get('filename') as string;
  }

  /** The content as bytes, or as text with an encoding. */
  getContent(): Promise<Buffer>;
  getContent(encoding: BufferEncoding): Promise<string>;
  async getContent(encoding?: BufferEncoding): Promise<Buffer | string> {
    return encoding === undefined
      ? this.repository.getObjectContent(this.filename)
      : this.repository.getObjectContent(this.filename, encoding);
  }

  protected override async validateBeforeStore(): Promise<void> {
    await super.validateBeforeStore();
    if (!this.base.attributes.has('filename')) throw new ValidationError('no file has been set');
    const names = this.repository.listObjectNames();
    if (names.length !== 1 || names[0] !== this.filename) {
      throw new ValidationError(
        `the repository must hold exactly the file \`${this.filename}\`, found [${names.join(', ')}]`,
      );
    }
  }
}
registerNodeClass(SinglefileData, {
  group: 'aiida.data',
  name: 'core.singlefile',
  className: 'SinglefileData',
});

/** A folder of files and subfolders (`data.core.folder.FolderData.`), all in the node's repository. */
export class FolderData extends Data {
  constructor(init?: undefined, options: NodeOptions = {}) {
    super(undefined, options);
  }

  /** A node holding a copy of the local folder `tree` (absolute path), empty folders included. */
  static async fromTree(tree: string, options: NodeOptions = {}): Promise<FolderData> {
    const node = new this(undefined, options);
    await node.repository.putObjectFromTree(path.resolve(tree));
    return node;
  }
}
registerNodeClass(FolderData, { group: 'aiida.data', name: 'core.folder', className: 'FolderData' });
