import { Command, Option } from 'commander';
import type { Node } from '../../orm/nodes/node.js';
import { defineCommandGroup, type Cli } from '../cli.js';
import { resolveArgument } from '../utils/arguments.js';
import { UsageError } from '../exit-codes.js';
import { nodeRehashCommand } from '../engine-commands.js';
import { nodeGraphCommand } from '../node/graph.js';
import { nodeExportProvenanceCommand } from '../node/export-provenance.js';
import { nodeRepoCommand } from '../node/repo.js';
import { nodeCommentCommand } from '../node/comment.js';

const PROJECTIONS = [
  'id',
  'uuid',
  'node_type',
  'process_type',
  'label',
  'description',
  'ctime',
  'mtime',
  'attributes',
  'extras',
] as const;
const DICT_FORMATS = ['json+date', 'yaml', 'yaml_expanded'] as const;
type DictFormat = (typeof DICT_FORMATS)[number];

/** Load nodes by pk, uuid (prefix) or label; an identifier that matches nothing is a usage error (exit 2). */
async function loadNodes(cli: Cli, identifiers: readonly string[]): Promise<Node[]> {
  const storage = await cli.storage();
  await import('../../orm.js');
  const { loadNode } = await import('../../orm/loaders.js');
  const nodes: Node[] = [];
  for (const identifier of identifiers) {
    nodes.push(await resolveArgument('NODES', () => loadNode(identifier, { storage })));
  }
  return nodes;
}

function printDictionary(cli: Cli, value: unknown, format: DictFormat): void {
  if (format === 'json+date') {
    cli.out.echo(
      JSON.stringify(value, (_key, item: unknown) => (item instanceof Date ? item.toISOString() : item), 4),
    );
  } else {
    cli.out.printYaml(value);
  }
}

async function nodeSummary(node: Node): Promise<Record<string, unknown>> {
  const summary: Record<string, unknown> = {
    type: node.constructor.name,
    pk: node.pk,
    uuid: node.uuid,
    node_type: node.nodeType,
    label: node.label,
    description: node.description,
    ctime: node.ctimeIso,
    mtime: node.mtimeIso,
  };
  if (node.processType !== null) summary.process_type = node.processType;
  const typed = node as Node & { processState?: unknown; exitStatus?: unknown; processLabel?: unknown };
  if (typed.processLabel !== undefined) summary.process_label = typed.processLabel;
  if (typed.processState !== undefined) summary.process_state = typed.processState;
  if (typed.exitStatus !== undefined) summary.exit_status = typed.exitStatus;
  const computer = await node.getComputer();
  if (computer !== null) summary.computer = `[${String(computer.pk)}] ${computer.label}`;
  return summary;
}

function printGroups(
  cli: Cli,
  node: Node,
  groups: { pk: number; label: string; type_string: string }[],
): void {
  cli.out.echo('#### GROUPS:');
  if (groups.length === 0) {
    cli.out.echo(`Node ${String(node.pk)} does not belong to any group`);
  } else {
    cli.out.echo(`Node ${String(node.pk)} belongs to the following groups:`);
    cli.out.table(
      ['PK', 'Label', 'Group type'],
      groups.map((g) => [g.pk, g.label, g.type_string]),
    );
  }
}

async function links(node: Node, direction: 'incoming' | 'outgoing') {
  const manager = direction === 'incoming' ? await node.links.getIncoming() : await node.links.getOutgoing();
  return manager
    .all()
    .map((triple) => ({
      link_label: triple.linkLabel,
      link_type: triple.linkType,
      pk: triple.node.pk,
      type: triple.node.constructor.name,
    }))
    .sort((a, b) => a.link_label.localeCompare(b.link_label));
}

async function groupsOf(cli: Cli, node: Node): Promise<{ pk: number; label: string; type_string: string }[]> {
  const storage = await cli.storage();
  const { QueryBuilder } = await import('../../querybuilder/query-builder.js');
  const rows = await new QueryBuilder({ backend: storage })
    .append('', { tag: 'node', filters: { id: { '==': node.pk } } })
    .append('group.core', {
      tag: 'group',
      withNode: 'node',
      subclassing: true,
      project: ['id', 'label', 'type_string'],
    })
    .all();
  return rows
    .map(([pk, label, typeString]) => ({
      pk: Number(pk),
      label: String(label),
      type_string: String(typeString),
    }))
    .sort((a, b) => a.pk - b.pk);
}

function addDictCommand(cli: Cli, group: Command, which: 'attributes' | 'extras'): void {
  group
    .command(which)
    .description(`Show the ${which} of one or more nodes.`)
    .argument('<nodes...>', 'Pks, uuids (or prefixes) or labels of the nodes.')
    .option('-k, --keys <keys...>', `Only show these ${which}.`)
    .addOption(
      new Option('-f, --format <format>', 'Format of the output.').choices(DICT_FORMATS).default('json+date'),
    )
    .addOption(
      new Option('-i, --identifier <identifier>', 'Identify the nodes by pk or uuid.')
        .choices(['pk', 'uuid'])
        .default('pk'),
    )
    .option('-r, --raw', 'Print the results as a single dictionary.')
    .option('--json', 'Print the results as one JSON document (same as `--raw --format json+date`).')
    .action(
      async (
        identifiers: string[],
        opts: {
          keys?: string[];
          format: DictFormat;
          identifier: 'pk' | 'uuid';
          raw?: boolean;
          json?: boolean;
        },
      ) => {
        cli.out.json = opts.json === true;
        const nodes = await loadNodes(cli, identifiers);
        const idName = opts.identifier === 'pk' ? 'PK' : 'UUID';
        const entries = nodes.map((node) => {
          const id = opts.identifier === 'pk' ? String(node.pk) : node.uuid;
          let values = which === 'attributes' ? node.attributes.all() : node.extras.all();
          if (opts.keys !== undefined) {
            const keys = opts.keys;
            values = Object.fromEntries(Object.entries(values).filter(([key]) => keys.includes(key)));
          }
          return {
            id,
            document: { [idName]: opts.identifier === 'pk' ? node.pk : node.uuid, [which]: values },
            values,
          };
        });
        if (opts.json === true) {
          cli.out.printJson(entries.map((entry) => entry.document));
          return;
        }
        if (opts.raw === true) {
          printDictionary(
            cli,
            entries.map((entry) => entry.document),
            opts.format,
          );
          return;
        }
        for (const entry of entries) {
          cli.out.echo(cli.out.colors.bold(`${idName}: ${entry.id}`));
          printDictionary(cli, entry.values, opts.format);
        }
      },
    );
}

function addColumnCommand(cli: Cli, group: Command, which: 'label' | 'description'): void {
  const heading = which === 'label' ? 'Label' : 'Description';
  group
    .command(which)
    .description(`View or set the ${which} of one or more nodes.`)
    .argument('<nodes...>', 'Pks, uuids (or prefixes) or labels of the nodes.')
    .option(
      which === 'label' ? '-L, --label <label>' : '-D, --description <description>',
      `Set this as the new ${which} of all NODES.`,
    )
    .option('-r, --raw', `Display only the ${which}s, no extra information.`)
    .option('-f, --force', 'Do not ask for confirmation.')
    .option('--json', `Print [{pk, ${which}}] as JSON.`)
    .action(
      async (
        identifiers: string[],
        opts: { label?: string; description?: string; raw?: boolean; force?: boolean; json?: boolean },
      ) => {
        cli.out.json = opts.json === true;
        const nodes = await loadNodes(cli, identifiers);
        const value = which === 'label' ? opts.label : opts.description;
        if (value === undefined) {
          if (opts.json === true)
            cli.out.printJson(nodes.map((node) => ({ pk: node.pk, [which]: node[which] })));
          else if (opts.raw === true) for (const node of nodes) cli.out.echo(node[which]);
          else
            cli.out.table(
              ['ID', heading],
              nodes.map((node) => [node.pk, node[which]]),
              { alignRight: [0] },
            );
          return;
        }
        if (opts.force !== true) {
          const sure = await cli.prompt.confirm(
            `Are you sure you want to set the ${which} for ${nodes.length} nodes?`,
          );
          if (!sure) cli.out.critical('Aborted!');
        }
        for (const node of nodes) {
          if (which === 'label') await node.setLabel(value);
          else await node.setDescription(value);
        }
        cli.out.success(
          which === 'label'
            ? `Set label '${value}' for ${nodes.length} nodes`
            : `Set description for ${nodes.length} nodes`,
        );
      },
    );
}

export default defineCommandGroup({
  name: 'node',
  description: 'Inspect, create and manage nodes.',
  build(cli: Cli) {
    const group = new Command('node');

    group
      .command('list')
      .description('Query all nodes with optional filtering and ordering.')
      .option(
        '-e, --entry-point <entry-point>',
        'Only nodes of this class, e.g. `core.int` (and its subclasses).',
      )
      .option('--no-subclassing', 'With --entry-point, do not match subclasses.')
      .addOption(
        new Option('-p, --project <fields...>', 'The fields to print.')
          .choices(PROJECTIONS)
          .default(['id', 'uuid', 'node_type']),
      )
      .option('-P, --past-days <days>', 'Only nodes created in the past N days.')
      .addOption(
        new Option('-O, --order-by <field>', 'Order by this field.')
          .choices(['id', 'ctime'])
          .default('ctime'),
      )
      .addOption(
        new Option('-D, --order-direction <direction>', 'Order direction.')
          .choices(['asc', 'desc'])
          .default('asc'),
      )
      .option('-l, --limit <n>', 'Print at most N nodes.')
      .option('-r, --raw', 'Print the values only, without headers.')
      .option('--json', 'Print the nodes as a JSON list of objects.')
      .action(
        async (opts: {
          entryPoint?: string;
          subclassing: boolean;
          project: string[];
          pastDays?: string;
          orderBy: string;
          orderDirection: string;
          limit?: string;
          raw?: boolean;
          json?: boolean;
        }) => {
          cli.out.json = opts.json === true;
          const storage = await cli.storage();
          const orm = await import('../../orm.js');
          const { QueryBuilder } = await import('../../querybuilder/query-builder.js');
          // Node type strings (`data.core.int.Int.`, `''` for every node) are what the QueryBuilder appends.
          let nodeType = '';
          if (opts.entryPoint !== undefined) {
            try {
              nodeType = orm.getNodeClassByEntryPoint(opts.entryPoint).nodeType;
            } catch (error) {
              throw new UsageError(
                `invalid value for --entry-point: ${(error as Error).message}`,
                undefined,
                { cause: error },
              );
            }
          }
          const filters: Record<string, unknown> = {};
          if (opts.pastDays !== undefined) {
            const days = Number(opts.pastDays);
            if (!Number.isFinite(days) || days < 0)
              throw new UsageError(`invalid value for --past-days: \`${opts.pastDays}\``);
            filters.ctime = { '>': new Date(Date.now() - days * 86_400_000) };
          }
          const qb = new QueryBuilder({ backend: storage })
            .append(nodeType, { tag: 'node', filters, project: opts.project, subclassing: opts.subclassing })
            .orderBy({ node: { [opts.orderBy]: opts.orderDirection } });
          if (opts.limit !== undefined) {
            const limit = Number(opts.limit);
            if (!Number.isInteger(limit) || limit < 0)
              throw new UsageError(`invalid value for --limit: \`${opts.limit}\``);
            qb.limit(limit);
          }
          const rows = (await qb.all()).map((row) =>
            row.map((value) => (value instanceof Date ? value.toISOString() : value)),
          );
          if (opts.json === true) {
            cli.out.printJson(
              rows.map((row) => Object.fromEntries(opts.project.map((field, index) => [field, row[index]]))),
            );
          } else if (opts.raw === true) {
            for (const row of rows)
              cli.out.echo(
                row.map((value) => (typeof value === 'string' ? value : JSON.stringify(value))).join('  '),
              );
          } else {
            cli.out.table(opts.project, rows);
          }
        },
      );

    group
      .command('show')
      .description('Show generic information on one or more nodes, with their incoming and outgoing links.')
      .argument('<nodes...>', 'Pks, uuids (or prefixes) or labels of the nodes.')
      .option('--print-groups', 'Show the groups containing the nodes.')
      .option(
        '--details',
        'Also show the node type, process type, process state and exit status, and the type of every link.',
      )
      .option('--json', 'Print the nodes as a JSON list.')
      .action(
        async (identifiers: string[], opts: { printGroups?: boolean; json?: boolean; details?: boolean }) => {
          cli.out.json = opts.json === true;
          const nodes = await loadNodes(cli, identifiers);
          const documents: Record<string, unknown>[] = [];
          for (const node of nodes) {
            if (opts.json !== true && opts.details !== true) {
              // aiida-core's `verdi node show`: its node summary and link sections, row for row.
              const { formatNodeInfo } = await import('../../tools/process-info/node-info.js');
              cli.out.echo(await formatNodeInfo(node));
              if (opts.printGroups === true) printGroups(cli, node, await groupsOf(cli, node));
              continue;
            }
            let summary = await nodeSummary(node);
            const incoming = await links(node, 'incoming');
            const outgoing = await links(node, 'outgoing');
            const groups = opts.printGroups === true ? await groupsOf(cli, node) : undefined;
            // Process nodes get aiida's layout: their state, inputs and outputs by namespace, caller, called, logs.
            const processInfo = await import('../../tools/process-info/node-info.js');
            const { ProcessNode } = await import('../../orm/nodes/process/process.js');
            const process = node instanceof ProcessNode ? node : undefined;
            if (process !== undefined) {
              // aiida shows a process's label as its type, with its state right below.
              const state = processInfo.summaryState(process);
              const { type, ...rest } = summary;
              summary = { type: process.processLabel ?? type, ...(state === null ? {} : { state }), ...rest };
            }
            if (opts.json === true) {
              const relations = process === undefined ? {} : await processInfo.processRelations(process);
              documents.push({
                ...summary,
                incoming,
                outgoing,
                ...relations,
                ...(groups === undefined ? {} : { groups }),
              });
              continue;
            }
            cli.out.table(['Property', 'Value'], Object.entries(summary));
            if (process !== undefined) {
              const sections = await processInfo.formatLinkSections(process, { linkTypes: true });
              if (sections !== '') cli.out.echo(sections.slice(1));
            }
            if (process === undefined && incoming.length > 0) {
              cli.out.echo();
              cli.out.table(
                ['Inputs', 'PK', 'Type', 'Link type'],
                incoming.map((link) => [link.link_label, link.pk, link.type, link.link_type]),
              );
            }
            if (process === undefined && outgoing.length > 0) {
              cli.out.echo();
              cli.out.table(
                ['Outputs', 'PK', 'Type', 'Link type'],
                outgoing.map((link) => [link.link_label, link.pk, link.type, link.link_type]),
              );
            }
            if (groups !== undefined) printGroups(cli, node, groups);
          }
          if (opts.json === true) cli.out.printJson(documents);
        },
      );

    addDictCommand(cli, group, 'attributes');
    addDictCommand(cli, group, 'extras');
    addColumnCommand(cli, group, 'label');
    addColumnCommand(cli, group, 'description');

    group
      .command('delete')
      .description(
        'Delete nodes from the provenance graph, with the nodes that must go with them to keep the graph consistent ' +
          '(the processes that used or created deleted data, the outputs of deleted calculations, …). The nodes are ' +
          'listed, then confirmation is asked, unless --force.',
      )
      .argument('<nodes...>', 'Pks, uuids (or prefixes) or labels of the nodes.')
      .option('--dry-run', 'Only show what would be deleted.')
      .option('-f, --force', 'Do not ask for confirmation.')
      .option('--create-forward', 'Also delete the data created by deleted calculations (default).')
      .option('--no-create-forward', 'Keep the data created by deleted calculations.')
      .option('--call-calc-forward', 'Also delete the calculations called by deleted workflows (default).')
      .option('--no-call-calc-forward', 'Keep the calculations called by deleted workflows.')
      .option('--call-work-forward', 'Also delete the workflows called by deleted workflows (default).')
      .option('--no-call-work-forward', 'Keep the workflows called by deleted workflows.')
      .option('--json', 'Print {pks, deleted} as JSON.')
      .action(
        async (
          identifiers: string[],
          opts: {
            dryRun?: boolean;
            force?: boolean;
            createForward?: boolean;
            callCalcForward?: boolean;
            callWorkForward?: boolean;
            json?: boolean;
          },
        ) => {
          cli.out.json = opts.json === true;
          const storage = await cli.storage();
          await import('../../orm.js');
          const { loadNode } = await import('../../orm/loaders.js');
          const { loadNodesByPk } = await import('../../orm/nodes/node.js');
          const { deleteNodes } = await import('../../orm/delete.js');
          const pks: number[] = [];
          for (const identifier of identifiers) {
            if (/^\d+$/.test(identifier)) pks.push(Number(identifier));
            else pks.push((await loadNode(identifier, { storage })).pk!);
          }
          const rules = {
            ...(opts.createForward === undefined ? {} : { create_forward: opts.createForward }),
            ...(opts.callCalcForward === undefined ? {} : { call_calc_forward: opts.callCalcForward }),
            ...(opts.callWorkForward === undefined ? {} : { call_work_forward: opts.callWorkForward }),
          };
          const onMissing = (missing: number[]) =>
            cli.out.warning(`nodes with pk ${missing.join(', ')} do not exist: skipped`);
          const planned = await deleteNodes(pks, { storage, dryRun: true, onMissing, ...rules });
          if (planned.pks.length === 0) {
            cli.out.report('Nothing to delete.');
            if (opts.json === true) cli.out.printJson({ pks: [], deleted: false });
            return;
          }
          cli.out.report(`${planned.pks.length} Node(s) marked for deletion`);
          if (opts.json !== true) {
            const nodes = await loadNodesByPk(planned.pks, { storage });
            cli.out.table(
              ['PK', 'UUID', 'Type', 'Label'],
              nodes.map((node) => [node.pk, node.uuid, node.constructor.name, node.label]),
              { alignRight: [0] },
            );
          }
          if (opts.dryRun === true) {
            cli.out.report('This was a dry run, exiting without deleting anything');
            if (opts.json === true) cli.out.printJson({ pks: planned.pks, deleted: false });
            return;
          }
          if (opts.force !== true) {
            cli.out.warning(`YOU ARE ABOUT TO DELETE ${planned.pks.length} NODES! THIS CANNOT BE UNDONE!`);
            if (!(await cli.prompt.confirm('Shall I continue?'))) cli.out.critical('Aborted!');
          }
          const result = await deleteNodes(planned.pks, { storage, dryRun: false, ...rules });
          if (opts.json === true) cli.out.printJson({ pks: result.pks, deleted: result.deleted });
          cli.out.success('Finished deletion.');
        },
      );

    group.addCommand(nodeRehashCommand(cli));
    group.addCommand(nodeGraphCommand(cli));
    group.addCommand(nodeExportProvenanceCommand(cli));
    group.addCommand(nodeRepoCommand(cli));
    group.addCommand(nodeCommentCommand(cli));

    return group;
  },
});
