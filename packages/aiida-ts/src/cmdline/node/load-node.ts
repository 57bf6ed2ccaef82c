import type { Node } from '../../orm/nodes/node.js';
import type { Cli } from '../cli.js';
import { resolveArgument } from '../utils/arguments.js';

/**
 * The node named on the command line by pk, uuid (or prefix) or label. One that matches nothing (or several) is a
 * usage error naming `argument` (exit 2), as aiida-core's `NODE` parameter type makes it.
 */
export async function loadNodeArgument(cli: Cli, identifier: string, argument = 'NODE'): Promise<Node> {
  const storage = await cli.storage();
  await import('../../orm.js');
  const { loadNode } = await import('../../orm/loaders.js');
  return resolveArgument(argument, () => loadNode(identifier, { storage }));
}

/** Every node named on the command line, in the order given (see {@link loadNodeArgument}). */
export async function loadNodeArguments(
  cli: Cli,
  identifiers: readonly string[],
  argument = 'NODES',
): Promise<Node[]> {
  const nodes: Node[] = [];
  for (const identifier of identifiers) nodes.push(await loadNodeArgument(cli, identifier, argument));
  return nodes;
}
