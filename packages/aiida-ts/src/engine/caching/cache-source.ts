import { LinkType } from '../../orm/links.js';
import { Node } from '../../orm/nodes/node.js';
import { ProcessAttribute, ProcessNode } from '../../orm/nodes/process/process.js';
import { QueryBuilder } from '../../querybuilder/query-builder.js';
import type { StorageBackend } from '../../storage/backend.js';
import { CACHED_FROM_KEY, HASH_EXTRA_KEY, VALID_CACHE_KEY, hashBeforeStore } from './hash.js';

/** Decides whether a finished node of a process class may serve as a cache source (aiida's `Process.is_valid_cache`). */
export type CacheValidator = (node: ProcessNode) => boolean;

/**
 * The first stored process node of the same class with this hash that is a valid cache source: finished, sealed, not
 * marked invalid (`_aiida_valid_cache` false) and accepted by the process class (an exit code that invalidates the
 * cache is not). Undefined when there is none.
 */
export async function findCacheSource(
  node: ProcessNode,
  hash: string,
  isValidCache: CacheValidator,
  storage: StorageBackend,
): Promise<ProcessNode | undefined> {
  const builder = new QueryBuilder({ backend: storage }).append(node.constructor, {
    filters: { [`extras.${HASH_EXTRA_KEY}`]: hash },
    subclassing: false,
  });
  for await (const [candidate] of builder.iterall()) {
    if (!(candidate instanceof ProcessNode)) continue;
    if (candidate.base.extras.get(VALID_CACHE_KEY, true) === false) continue;
    if (!candidate.isFinished || !candidate.isSealed) continue;
    if (!isValidCache(candidate)) continue;
    return candidate;
  }
  return undefined;
}

/**
 * Makes the unstored `target` a copy of the cached `source` (aiida's `_store_from_cache`): label, description,
 * attributes but `sealed`, and files; records the source in the `_aiida_cached_from` extra.
 */
export async function copyFromCache(target: ProcessNode, source: ProcessNode): Promise<void> {
  target.label = source.label;
  target.description = source.description;
  const attributes = source.base.attributes.all();
  delete attributes[ProcessAttribute.SEALED];
  delete attributes[ProcessAttribute.CHECKPOINT];
  target.base.attributes.setMany(attributes);
  if (!source.repository.isEmpty()) await target.repository.cloneFrom(source.repository);
  await target.base.extras.set(CACHED_FROM_KEY, source.uuid);
}

/**
 * Gives the stored `target` clones of the outputs of `source`, under the same link types and labels (aiida's
 * `_add_outputs_from_cache`), stored in one transaction. Resolves to the clones by link label.
 */
export async function cloneCachedOutputs(
  target: ProcessNode,
  source: ProcessNode,
): Promise<Map<string, Node>> {
  const links = await source.base.links.getOutgoing({ linkType: [LinkType.CREATE, LinkType.RETURN] });
  const clones = new Map<string, Node>();
  const unstored: Node[] = [];
  for (const { node, linkType, linkLabel } of links) {
    const clone = await node.clone();
    await hashBeforeStore(clone);
    await clone.base.links.addIncoming(target, linkType, linkLabel);
    unstored.push(clone);
    clones.set(linkLabel, clone);
  }
  if (unstored.length > 0) await Node.storeMany(unstored);
  return clones;
}
