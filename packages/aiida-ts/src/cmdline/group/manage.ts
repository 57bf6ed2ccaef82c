import { Command } from 'commander';
import type { Group } from '../../orm/entities/group.js';
import type { Cli } from '../cli.js';
import { resolveArgument } from '../utils/arguments.js';
import { loadNodeArguments } from '../node/load-node.js';

/** A group named on the command line; one that matches nothing is a usage error naming `what` (exit 2). */
export async function loadGroupArgument(cli: Cli, identifier: string, what: string): Promise<Group> {
  const storage = await cli.storage();
  await import('../../orm.js');
  const { loadGroup } = await import('../../orm/entities/group.js');
  return resolveArgument(what, () => loadGroup(identifier, { storage }));
}

const ref = (group: Group): string => `Group<${group.label}>`;

/** `verdi group copy SOURCE_GROUP DESTINATION_GROUP`: the nodes of a group added to another (created if needed). */
export function groupCopyCommand(cli: Cli): Command {
  return new Command('copy')
    .description(
      'Duplicate a group: add all nodes of the source group to the destination group, which is created if it does ' +
        'not exist.',
    )
    .argument('<source_group>', 'Pk, uuid or label of the group to copy.')
    .argument('<destination_group>', 'Label of the group to copy to.')
    .action(async (sourceIdentifier: string, destination: string) => {
      const source = await loadGroupArgument(cli, sourceIdentifier, 'SOURCE_GROUP');
      const storage = await cli.storage();
      const { Group: GroupClass } = await import('../../orm/entities/group.js');
      const { group: target, created } = await GroupClass.getOrCreate({ label: destination }, { storage });
      if (!created && !(await target.isEmpty())) {
        cli.out.warning(`Destination ${ref(target)} already exists and is not empty.`);
        if (!(await cli.prompt.confirm('Do you wish to continue anyway?'))) cli.out.critical('Aborted!');
      }
      await target.addNodes(await source.nodes());
      cli.out.success(`Nodes copied from ${ref(source)} to ${ref(target)}.`);
    });
}

/** `verdi group move-nodes NODES -s SOURCE -t TARGET [-a] [-f]`. */
export function groupMoveNodesCommand(cli: Cli): Command {
  return new Command('move-nodes')
    .description('Move the specified NODES from one group to another.')
    .argument('[nodes...]', 'Pks, uuids (or prefixes) or labels of the nodes.')
    .requiredOption('-s, --source-group <group>', 'The group whose nodes to move.')
    .requiredOption('-t, --target-group <group>', 'The group to which the nodes are moved.')
    .option('-f, --force', 'Do not ask for confirmation and skip all checks.')
    .option('-a, --all', 'Move all nodes from the source to the target group.')
    .action(
      async (
        identifiers: string[],
        opts: { sourceGroup: string; targetGroup: string; force?: boolean; all?: boolean },
      ) => {
        const source = await loadGroupArgument(cli, opts.sourceGroup, '-s/--source-group');
        const target = await loadGroupArgument(cli, opts.targetGroup, '-t/--target-group');
        if (source.pk === target.pk)
          return cli.out.critical(`Source and target group are the same: ${ref(source)}.`);
        let nodes = await loadNodeArguments(cli, identifiers);
        if (nodes.length === 0) {
          if (opts.all !== true)
            return cli.out.critical('Neither NODES or the `-a, --all` option was specified.');
          nodes = await source.nodes();
        }
        if (opts.all !== true) {
          const inSource = new Set((await source.nodes()).map((node) => node.pk));
          const present = nodes.filter((node) => inSource.has(node.pk));
          if (present.length === 0)
            return cli.out.critical(`None of the specified nodes are in ${ref(source)}.`);
          if (present.length < nodes.length) {
            const absent = nodes.filter((node) => !inSource.has(node.pk)).map((node) => String(node.pk));
            cli.out.warning(
              `${absent.length} nodes with PK {${absent.join(', ')}} are not in ${ref(source)}.`,
            );
            nodes = present;
          }
        }
        const inTarget = new Set((await target.nodes()).map((node) => node.pk));
        const already = nodes.filter((node) => inTarget.has(node.pk)).map((node) => String(node.pk));
        if (already.length > 0)
          cli.out.warning(
            `${already.length} nodes with PK {${already.join(', ')}} are already in ${ref(target)}. ` +
              `These will still be removed from ${ref(source)}.`,
          );
        if (
          opts.force !== true &&
          !(await cli.prompt.confirm(
            `Are you sure you want to move ${nodes.length} nodes from ${ref(source)} to ${ref(target)}?`,
          ))
        )
          cli.out.critical('Aborted!');
        await source.removeNodes(nodes);
        await target.addNodes(nodes);
        cli.out.success(`Moved ${nodes.length} node(s) from ${ref(source)} to ${ref(target)}.`);
      },
    );
}

/** `verdi group path ls [PATH]`: the group label hierarchy (`a/b/c`). */
export function groupPathCommand(cli: Cli): Command {
  const path = new Command('path').description('Inspect groups of nodes, with delimited label paths.');
  path
    .command('ls')
    .description('Show a list of existing group paths.')
    .argument('[path]', 'The path to list below (default: the top).')
    .option('-T, --type-string <type>', 'Filter to only include groups of this type string.', 'core')
    .option('-R, --recursive', 'Recursively list sub-paths encountered.')
    .option('-l, --long', 'List as a table, with sub-group count.')
    .option('-d, --with-description', 'Show also the group description.')
    .option('--no-virtual', 'Only show paths that fully correspond to an existing group.')
    .option('--no-warn', 'Do not issue a warning if any paths are invalid.')
    .action(
      async (
        pathText: string | undefined,
        opts: {
          typeString: string;
          recursive?: boolean;
          long?: boolean;
          withDescription?: boolean;
          virtual: boolean;
        },
      ) => {
        const storage = await cli.storage();
        const { GroupPath } = await import('../../orm/entities/group-path.js');
        const { isAiidaError } = await import('../../errors.js');
        let root;
        try {
          root = new GroupPath(pathText ?? '', { storage, typeString: opts.typeString });
        } catch (error) {
          if (isAiidaError(error)) return cli.out.critical(error.message);
          throw error;
        }
        const children = [];
        if (opts.recursive === true) for await (const child of root.walk()) children.push(child);
        else children.push(...(await root.children()));
        children.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
        const { bold } = cli.out.colors;
        const rows: unknown[][] = [];
        for (const child of children) {
          const group = await child.getGroup();
          if (opts.virtual === false && group === null) continue;
          const shown = group === null ? child.path : bold(child.path);
          if (opts.long !== true && opts.withDescription !== true) {
            cli.out.echo(shown);
            continue;
          }
          let count = 0;
          for await (const below of child.walk()) if ((await below.getGroup()) !== null) count += 1;
          const row: unknown[] = [shown, count];
          if (opts.withDescription === true) row.push(group === null ? '-' : group.description);
          rows.push(row);
        }
        if (opts.long === true || opts.withDescription === true)
          cli.out.table(
            opts.withDescription === true ? ['Path', 'Sub-Groups', 'Description'] : ['Path', 'Sub-Groups'],
            rows,
          );
      },
    );
  return path;
}
