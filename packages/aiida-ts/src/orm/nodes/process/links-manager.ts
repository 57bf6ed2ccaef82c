import { NotExistentError } from '../../../errors.js';
import { PORT_NAMESPACE_SEPARATOR, type LinkType } from '../../links.js';
import type { LinkTriple, Node } from '../node.js';

/** Untyped nodes linked under a namespace, by label (a namespace's labels are `ns__label` in the graph). */
export interface LinkedNodes {
  readonly [label: string]: Node | LinkedNodes;
}

/**
 * One entry of `node.inputs` / `node.outputs`: awaiting it gives the node linked under that label, or for a
 * namespace an object of the nodes in it; its properties are the entries of a namespace (`node.outputs.ns.x`).
 * It rejects with a `NotExistentError` naming the labels there are when nothing is linked under the label.
 */
export type Linked<T> = PromiseLike<T> & LinkedMembers<T>;

type LinkedMembers<T> = T extends Node
  ? unknown
  : T extends object
    ? { readonly [K in keyof T]-?: Linked<NonNullable<T[K]>> }
    : unknown;

/**
 * The type of `node.inputs` / `node.outputs` for links of type `T` (a phantom of the node type): the labels and
 * node types of the process spec when the process class is known (see the engine's `ProcessNodeOf`), any label
 * otherwise.
 */
export type NodeLinksManager<T> = unknown extends T ? Linked<LinkedNodes> : Linked<T>;

/** What a manager reads: the links of one node in one direction, of some types, and what to call them. */
export interface LinksSource {
  readonly node: Node;
  readonly direction: 'incoming' | 'outgoing';
  readonly linkTypes: readonly LinkType[];
  /** `input` or `output`, for messages. */
  readonly noun: string;
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * `node.inputs` / `node.outputs` (aiida-core's `NodeLinksManager`): the neighbours of a process node by link label,
 * with namespaces (`ns__x`) as nested entries. Each access reads the links when awaited, so it sees the links stored
 * by then. A label is any valid link label except `then` (awaiting needs it), reachable as `(await node.outputs).then`.
 */
export function nodeLinksManager(source: LinksSource): unknown {
  return linkedEntry(source, []);
}

function linkedEntry(source: LinksSource, path: readonly string[]): object {
  const resolve = async (): Promise<Node | LinkedNodes> => {
    const links =
      source.direction === 'incoming'
        ? await source.node.base.links.getIncoming({ linkType: source.linkTypes })
        : await source.node.base.links.getOutgoing({ linkType: source.linkTypes });
    return select(source, links.all(), path);
  };
  return new Proxy(Object.create(null) as object, {
    get(_target, key) {
      if (key === 'then')
        return (onFulfilled?: (value: unknown) => unknown, onRejected?: (reason: unknown) => unknown) =>
          resolve().then(onFulfilled, onRejected);
      if (key === INSPECT) return () => describe(source, path);
      if (typeof key === 'symbol') return undefined;
      return linkedEntry(source, [...path, key]);
    },
    set() {
      return false;
    },
  });
}

function describe(source: LinksSource, path: readonly string[]): string {
  const where = path.length === 0 ? `${source.noun}s` : `${source.noun} ${path.join('.')}`;
  return `NodeLinksManager(${where} of ${source.node.toString()})`;
}

/** The node under the label `path`, or the nodes of the namespace `path`, among `triples`. */
function select(
  source: LinksSource,
  triples: readonly LinkTriple[],
  path: readonly string[],
): Node | LinkedNodes {
  const label = path.join(PORT_NAMESPACE_SEPARATOR);
  if (label !== '') {
    const exact = triples.find((triple) => triple.linkLabel === label);
    if (exact !== undefined) return exact.node;
  }
  const prefix = label === '' ? '' : label + PORT_NAMESPACE_SEPARATOR;
  const inside = triples.filter((triple) => triple.linkLabel.startsWith(prefix));
  if (label !== '' && inside.length === 0) {
    const labels = triples.map((triple) => triple.linkLabel).sort();
    throw new NotExistentError(
      `${source.node.toString()} has no ${source.noun} labelled \`${path.join('.')}\`` +
        (labels.length === 0
          ? ` (it has no ${source.noun}s)`
          : ` (its ${source.noun}s: ${labels.join(', ')})`),
    );
  }
  const nested: Record<string, Node | LinkedNodes> = {};
  for (const triple of inside) {
    const parts = triple.linkLabel.slice(prefix.length).split(PORT_NAMESPACE_SEPARATOR);
    let level = nested;
    for (const part of parts.slice(0, -1)) {
      const next = level[part];
      if (next === undefined || !isNamespace(next)) level[part] = {};
      level = level[part] as Record<string, Node | LinkedNodes>;
    }
    level[parts[parts.length - 1] ?? ''] = triple.node;
  }
  return nested;
}

function isNamespace(value: Node | LinkedNodes): value is LinkedNodes {
  return Object.getPrototypeOf(value) === Object.prototype;
}
