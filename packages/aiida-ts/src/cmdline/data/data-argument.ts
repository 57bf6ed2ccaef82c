import type { Node } from '../../orm/nodes/node.js';
import type { Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';
import { resolveArgument } from '../utils/arguments.js';

/**
 * The data node named on the command line, which must be a `type` (or a subclass), as aiida-core's `DataParamType`
 * with `sub_classes`: an identifier that matches nothing, or a node of another type, is a usage error (exit 2)
 * naming `argument` and the node.
 */
export async function loadDataArgument<T extends Node>(
  cli: Cli,
  identifier: string,
  type: abstract new (...args: never[]) => T,
  entryPoint: string,
  argument = 'DATA',
): Promise<T> {
  const storage = await cli.storage();
  await import('../../orm.js');
  const { loadNode } = await import('../../orm/loaders.js');
  const node = await resolveArgument(argument, () => loadNode(identifier, { storage }));
  if (!(node instanceof type))
    throw new UsageError(
      `invalid value for ${argument}: \`${identifier}\` is node<${String(node.pk)}> (${node.constructor.name}), ` +
        `not a ${entryPoint} node`,
    );
  return node;
}

/** Every data node named on the command line (see {@link loadDataArgument}). */
export async function loadDataArguments<T extends Node>(
  cli: Cli,
  identifiers: readonly string[],
  type: abstract new (...args: never[]) => T,
  entryPoint: string,
): Promise<T[]> {
  const nodes: T[] = [];
  for (const identifier of identifiers) nodes.push(await loadDataArgument(cli, identifier, type, entryPoint));
  return nodes;
}
