import { Command, Option } from 'commander';
import type { Group } from '../../orm/entities/group.js';
import type { Node } from '../../orm/nodes/node.js';
import { defineCommandGroup, type Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';
import { resolveArgument } from '../utils/arguments.js';
import { groupCopyCommand, groupMoveNodesCommand, groupPathCommand } from '../group/manage.js';
import { groupDumpCommand } from '../dump/collection-dump.js';

/** Load a group by pk, uuid (prefix) or label; an identifier matching nothing is a usage error (exit 2). */
async function loadGroupArg(cli: Cli, identifier: string, what = 'GROUP'): Promise<Group> {
  const storage = await cli.storage();
  await import('../../orm.js');
  const { loadGroup } = await import('../../orm/entities/group.js');
  return resolveArgument(what, () => loadGroup(identifier, { storage }));
}

async function loadNodeArgs(cli: Cli, identifiers: readonly string[]): Promise<Node[]> {
  const storage = await cli.storage();
  const { loadNode } = await import('../../orm/loaders.js');
  const nodes: Node[] = [];
  for (const identifier of identifiers) {
    nodes.push(await resolveArgument('NODES', () => loadNode(identifier, { storage })));
  }
  return nodes;
}

function groupRef(group: Group): string {
  return `Group<${group.label}>`;
}

export default defineCommandGroup({
  name: 'group',
  description: 'Create, inspect and manage groups of nodes.',
  build(cli: Cli) {
    const group = new Command('group');

    group
      .command('create')
      .description('Create an empty group with a given label (nothing happens when it exists).')
      .argument('<label>', 'Label of the new group.')
      .option('-D, --description <description>', 'Description of the group.')
      .action(async (label: string, opts: { description?: string }) => {
        if (label.trim() === '')
          throw new UsageError('invalid value for LABEL: a group needs a non-empty label');
        const storage = await cli.storage();
        const { Group: GroupClass } = await import('../../orm/entities/group.js');
        const { group: created, created: isNew } = await GroupClass.getOrCreate(
          { label, ...(opts.description === undefined ? {} : { description: opts.description }) },
          { storage },
        );
        if (isNew)
          cli.out.success(`Group created with PK = ${String(created.pk)} and label '${created.label}'.`);
        else cli.out.report(`Group with label '${created.label}' already exists: ${String(created)}.`);
      });

    group
      .command('list')
      .description('Show a list of the groups (by default the user-defined groups of the default user).')
      .option('-a, --all-users', 'Show groups of all users.')
      .addOption(new Option('-T, --type-string <type>', 'Only groups of this type string.').default('core'))
      .option('--all-types', 'Show groups of every type (auto groups, import groups, …).')
      .option('-s, --startswith <prefix>', 'Only groups whose label starts with this.')
      .option('-c, --contains <text>', 'Only groups whose label contains this.')
      .option('-d, --with-description', 'Show the descriptions.')
      .option('-C, --count', 'Show the number of nodes in each group.')
      .option('--node <node>', 'Only groups that contain this node.')
      .addOption(
        new Option('-O, --order-by <field>', 'Order by this field.').choices(['id', 'label']).default('id'),
      )
      .addOption(
        new Option('-D, --order-direction <direction>', 'Order direction.')
          .choices(['asc', 'desc'])
          .default('asc'),
      )
      .option('--json', 'Print the groups as JSON.')
      .action(
        async (opts: {
          allUsers?: boolean;
          typeString: string;
          allTypes?: boolean;
          startswith?: string;
          contains?: string;
          withDescription?: boolean;
          count?: boolean;
          node?: string;
          orderBy: 'id' | 'label';
          orderDirection: 'asc' | 'desc';
          json?: boolean;
        }) => {
          cli.out.json = opts.json === true;
          const storage = await cli.storage();
          await import('../../orm.js');
          const { Group: GroupClass } = await import('../../orm/entities/group.js');
          const { User } = await import('../../orm/entities/user.js');
          let groups = await GroupClass.all(
            { typeString: opts.allTypes === true ? null : opts.typeString },
            { storage },
          );
          if (opts.allUsers !== true) {
            const me = await User.getDefaultId(storage);
            groups = groups.filter((g) => g.userId === me);
          }
          if (opts.startswith !== undefined)
            groups = groups.filter((g) => g.label.startsWith(opts.startswith ?? ''));
          if (opts.contains !== undefined)
            groups = groups.filter((g) => g.label.includes(opts.contains ?? ''));
          if (opts.node !== undefined) {
            const [node] = await loadNodeArgs(cli, [opts.node]);
            const rows = await storage
              .executor()
              .selectFrom('db_dbgroup_dbnodes')
              .select('dbgroup_id')
              .where('dbnode_id', '=', node!.pk!)
              .execute();
            const member = new Set(rows.map((row) => row.dbgroup_id));
            groups = groups.filter((g) => member.has(g.pk!));
          }
          groups.sort((a, b) => (opts.orderBy === 'id' ? a.pk! - b.pk! : a.label.localeCompare(b.label)));
          if (opts.orderDirection === 'desc') groups.reverse();
          const users = new Map((await User.all({ storage })).map((user) => [user.pk, user.email]));
          const rows = [];
          for (const g of groups) {
            rows.push({
              pk: g.pk,
              label: g.label,
              type_string: g.typeString,
              user: users.get(g.userId) ?? null,
              ...(opts.withDescription === true ? { description: g.description } : {}),
              ...(opts.count === true ? { node_count: await g.count() } : {}),
            });
          }
          if (opts.json === true) {
            cli.out.printJson(rows);
            return;
          }
          if (rows.length === 0) {
            cli.out.report('No groups found matching the criteria.');
            return;
          }
          const headers = ['PK', 'Label', 'Type string', 'User'];
          if (opts.withDescription === true) headers.push('Description');
          if (opts.count === true) headers.push('Node count');
          cli.out.table(
            headers,
            rows.map((row) => Object.values(row)),
            { alignRight: [0] },
          );
        },
      );

    group
      .command('show')
      .description('Show information about a group and the nodes it contains.')
      .argument('<group>', 'Pk, uuid or label of the group.')
      .option('-r, --raw', 'Print only the pks of the nodes, space separated.')
      .option('-u, --uuid', 'Show the uuids of the nodes.')
      .option('-l, --limit <n>', 'Show at most N nodes.')
      .option('--json', 'Print the group and its nodes as JSON.')
      .action(
        async (
          identifier: string,
          opts: { raw?: boolean; uuid?: boolean; limit?: string; json?: boolean },
        ) => {
          cli.out.json = opts.json === true;
          const target = await loadGroupArg(cli, identifier);
          let limit: number | undefined;
          if (opts.limit !== undefined) {
            limit = Number(opts.limit);
            if (!Number.isInteger(limit) || limit < 0)
              throw new UsageError(`invalid value for --limit: \`${opts.limit}\``);
          }
          const nodes = await target.nodes(limit === undefined ? {} : { limit });
          if (opts.raw === true) {
            cli.out.echo(nodes.map((node) => String(node.pk)).join(' '));
            return;
          }
          const user = await target.getUser();
          if (opts.json === true) {
            cli.out.printJson({
              pk: target.pk,
              uuid: target.uuid,
              label: target.label,
              type_string: target.typeString,
              description: target.description,
              user: user.email,
              node_count: await target.count(),
              nodes: nodes.map((node) => ({
                pk: node.pk,
                uuid: node.uuid,
                type: node.constructor.name,
                label: node.label,
                ctime: node.ctimeIso,
              })),
            });
            return;
          }
          cli.out.table(
            ['Property', 'Value'],
            [
              ['Group label', target.label],
              ['Group type_string', target.typeString],
              ['Group description', target.description === '' ? '<no description>' : target.description],
              ['Group user', user.email],
            ],
          );
          cli.out.echo('# Nodes:');
          const headers = ['PK', ...(opts.uuid === true ? ['UUID'] : []), 'Type', 'Label', 'Created'];
          cli.out.table(
            headers,
            nodes.map((node) => [
              node.pk,
              ...(opts.uuid === true ? [node.uuid] : []),
              node.constructor.name,
              node.label,
              node.ctimeIso,
            ]),
            { alignRight: [0] },
          );
        },
      );

    group
      .command('add-nodes')
      .description('Add nodes to a group.')
      .requiredOption('-G, --group <group>', 'Pk, uuid or label of the group.')
      .argument('<nodes...>', 'Pks, uuids (or prefixes) or labels of the nodes.')
      .action(async (identifiers: string[], opts: { group: string }) => {
        const target = await loadGroupArg(cli, opts.group, '--group');
        const nodes = await loadNodeArgs(cli, identifiers);
        await target.addNodes(nodes);
        cli.out.success(`Added ${nodes.length} node(s) to ${groupRef(target)}.`);
      });

    group
      .command('remove-nodes')
      .description('Remove nodes from a group (the nodes themselves stay).')
      .requiredOption('-G, --group <group>', 'Pk, uuid or label of the group.')
      .argument('[nodes...]', 'Pks, uuids (or prefixes) or labels of the nodes.')
      .option('-c, --clear', 'Remove all the nodes from the group.')
      .option('-f, --force', 'Do not ask for confirmation.')
      .action(async (identifiers: string[], opts: { group: string; clear?: boolean; force?: boolean }) => {
        const target = await loadGroupArg(cli, opts.group, '--group');
        if (opts.clear === true && identifiers.length > 0)
          throw new UsageError('either give NODES or --clear, not both');
        if (opts.clear !== true && identifiers.length === 0)
          throw new UsageError('give the NODES to remove, or --clear');
        const nodes = opts.clear === true ? [] : await loadNodeArgs(cli, identifiers);
        if (opts.force !== true) {
          const question =
            opts.clear === true
              ? `Do you really want to remove ALL the nodes from ${groupRef(target)}?`
              : `Do you really want to remove ${nodes.length} nodes from ${groupRef(target)}?`;
          if (!(await cli.prompt.confirm(question))) cli.out.critical('Aborted!');
        }
        if (opts.clear === true) await target.clear();
        else await target.removeNodes(nodes);
        cli.out.success(
          opts.clear === true
            ? `Removed all nodes from ${groupRef(target)}.`
            : `Removed ${nodes.length} node(s) from ${groupRef(target)}.`,
        );
      });

    group
      .command('delete')
      .description('Delete groups; with --delete-nodes also their nodes (and what must go with them).')
      .argument('<groups...>', 'Pks, uuids or labels of the groups.')
      .option('--delete-nodes', 'Also delete the nodes of the groups.')
      .option('--dry-run', 'Only show what would be deleted.')
      .option('-f, --force', 'Do not ask for confirmation.')
      .action(
        async (identifiers: string[], opts: { deleteNodes?: boolean; dryRun?: boolean; force?: boolean }) => {
          const storage = await cli.storage();
          const groups: Group[] = [];
          for (const identifier of identifiers) groups.push(await loadGroupArg(cli, identifier, 'GROUPS'));
          cli.out.report(
            `${groups.length} group(s) to delete: ${groups.map((g) => `${g.label} [${String(g.pk)}]`).join(', ')}`,
          );
          const { deleteGroupNodes } = await import('../../orm/delete.js');
          let nodePks: number[] = [];
          if (opts.deleteNodes === true) {
            nodePks = (
              await deleteGroupNodes(
                groups.map((g) => g.pk!),
                { storage, dryRun: true },
              )
            ).pks;
            cli.out.report(`${nodePks.length} node(s) to delete with them: ${nodePks.join(' ') || 'none'}`);
          }
          if (opts.dryRun === true) {
            cli.out.report('This was a dry run, exiting without deleting anything');
            return;
          }
          if (opts.force !== true) {
            const what = opts.deleteNodes === true ? ` and ${nodePks.length} nodes` : '';
            if (
              !(await cli.prompt.confirm(`Are you sure you want to delete ${groups.length} groups${what}?`))
            ) {
              cli.out.critical('Aborted!');
            }
          }
          if (opts.deleteNodes === true)
            await deleteGroupNodes(
              groups.map((g) => g.pk!),
              { storage, dryRun: false },
            );
          const { Group: GroupClass } = await import('../../orm/entities/group.js');
          for (const g of groups) {
            await GroupClass.delete(g.pk!, { storage });
            cli.out.success(`${groupRef(g)} deleted.`);
          }
        },
      );

    group
      .command('relabel')
      .description('Change the label of a group.')
      .argument('<group>', 'Pk, uuid or label of the group.')
      .argument('<label>', 'The new label.')
      .action(async (identifier: string, label: string) => {
        if (label.trim() === '')
          throw new UsageError('invalid value for LABEL: a group needs a non-empty label');
        const target = await loadGroupArg(cli, identifier);
        try {
          await target.setLabel(label);
        } catch (error) {
          if ((error as { name?: string }).name === 'IntegrityError')
            cli.out.critical(`Group with the label ${label} already exists.`);
          throw error;
        }
        cli.out.success(`Label changed to ${label}`);
      });

    group
      .command('description')
      .description('Show the description of a group, or set a new one.')
      .argument('<group>', 'Pk, uuid or label of the group.')
      .argument('[description]', 'The new description.')
      .action(async (identifier: string, description: string | undefined) => {
        const target = await loadGroupArg(cli, identifier);
        if (description === undefined) {
          cli.out.echo(target.description);
          return;
        }
        await target.setDescription(description);
        cli.out.success(`Changed the description of ${groupRef(target)}.`);
      });

    group.addCommand(groupCopyCommand(cli));
    group.addCommand(groupMoveNodesCommand(cli));
    group.addCommand(groupPathCommand(cli));
    group.addCommand(groupDumpCommand(cli));

    return group;
  },
});
