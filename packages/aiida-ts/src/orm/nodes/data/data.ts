import { NotExistentError } from '../../../errors.js';
import { LinkType } from '../../links.js';
import { Node, type NodeOptions } from '../node.js';
import { registerNodeClass } from '../registry.js';

/**
 * The base of every data node: storable, the target of `create`/`return` links and the source of inputs.
 * Subclasses register an `aiida.data` entry point (`core.int`, …) to be storable.
 */
export class Data extends Node {
  static override readonly storable: boolean = true;
  static override readonly unstorableMessage: string = 'storing for this node has been disabled';
  static override readonly nodeFamily = 'data' as const;

  constructor(init?: undefined, options: NodeOptions = {}) {
    void init;
    super(options);
  }

  /** Where the data came from (`source` attribute: a dict such as `{db_name, id, uri, …}`), or null. */
  get source(): Record<string, unknown> | null {
    return (this.base.attributes.get('source', null) as Record<string, unknown> | null) ?? null;
  }
  set source(value: Record<string, unknown> | null) {
    if (value === null) {
      if (this.base.attributes.has('source')) this.base.attributes.delete('source');
    } else {
      this.base.attributes.set('source', { ...value });
    }
  }

  /** The calculation that created this node (incoming `create` link), or null. */
  async getCreator(): Promise<Node | null> {
    const links = await this.base.links.getIncoming({ linkType: LinkType.CREATE });
    return links.first()?.node ?? null;
  }

  /** Like {@link getCreator} but `NotExistentError` when there is none. */
  async creator(): Promise<Node> {
    const node = await this.getCreator();
    if (node === null) throw new NotExistentError(`node<${String(this.pk)}> has no creator`);
    return node;
  }
}

registerNodeClass(Data, { group: 'aiida.node', name: 'data', className: 'Data', fallback: true });
