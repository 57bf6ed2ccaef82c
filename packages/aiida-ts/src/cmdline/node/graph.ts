import { Command, Option } from 'commander';
import type { LinkType } from '../../orm/links.js';
import type { Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';

const LINK_TYPE_SETS = { all: [], logic: ['input_work', 'return'], data: ['input_calc', 'create'] } as const;

/** `verdi node graph generate ROOT_NODES…`: the provenance around nodes as DOT, SVG or PNG. */
export function nodeGraphCommand(cli: Cli): Command {
  const graph = new Command('graph').description('Create visual representations of the provenance graph.');
  graph
    .command('generate')
    .description('Generate a graph from one or multiple root nodes.')
    .argument('<root_nodes...>', 'Pks, uuids (or prefixes) or labels of the root nodes.')
    .addOption(
      new Option(
        '-l, --link-types <types>',
        'The link types to include: data (input_calc, create), logic (input_work, return), or all.',
      )
        .choices(['all', 'logic', 'data'])
        .default('all'),
    )
    .addOption(
      new Option(
        '--identifier <identifier...>',
        'The type of identifier to label nodes with (several allowed).',
      )
        .choices(['pk', 'uuid', 'label'])
        .default(['uuid']),
    )
    .option(
      '-a, --ancestor-depth <n>',
      'The maximum depth when recursing upwards, if not set it will recurse to the end.',
    )
    .option(
      '-d, --descendant-depth <n>',
      'The maximum depth when recursing through the descendants. If not set it will recurse to the end.',
    )
    .option('-o, --process-out', 'Show outgoing links for all processes.')
    .option('-i, --process-in', 'Show incoming links for all processes.')
    .addOption(
      new Option('-e, --engine <engine>', 'The graphviz engine, e.g. dot, circo, ...').default('dot'),
    )
    .addOption(
      new Option('-f, --output-format <format>', 'The output format: dot, canon, svg or png.')
        .choices(['dot', 'canon', 'svg', 'png'])
        .default('png'),
    )
    .option(
      '-c, --highlight-classes <classes...>',
      'Only colour nodes of these classes (e.g. StructureData); the others are grey.',
    )
    .option(
      '-s, --show',
      'Open the rendered result with the default application (not available: the path is printed).',
    )
    .option('-O, --output-file <file>', 'The file to write; default `<pks>.<engine>.<format>`.')
    .option('--json', 'Print {file, nodes, edges} as JSON.')
    .action(
      async (
        identifiers: string[],
        opts: {
          linkTypes: keyof typeof LINK_TYPE_SETS;
          identifier: ('pk' | 'uuid' | 'label')[];
          ancestorDepth?: string;
          descendantDepth?: string;
          processOut?: boolean;
          processIn?: boolean;
          engine: string;
          outputFormat: 'dot' | 'canon' | 'svg' | 'png';
          highlightClasses?: string[];
          show?: boolean;
          outputFile?: string;
          json?: boolean;
        },
      ) => {
        cli.out.json = opts.json === true;
        const depth = (value: string | undefined, name: string): number | undefined => {
          if (value === undefined) return undefined;
          if (!/^\d+$/.test(value))
            throw new UsageError(`invalid value for ${name}: \`${value}\` is not a non-negative integer`);
          return Number(value);
        };
        const ancestorDepth = depth(opts.ancestorDepth, '--ancestor-depth');
        const descendantDepth = depth(opts.descendantDepth, '--descendant-depth');
        const storage = await cli.storage();
        await import('../../orm.js');
        const { loadNode } = await import('../../orm/loaders.js');
        const roots = [];
        for (const identifier of identifiers) {
          try {
            roots.push(await loadNode(identifier, { storage }));
          } catch (error) {
            throw new UsageError(`invalid value for ROOT_NODES: ${(error as Error).message}`, undefined, {
              cause: error,
            });
          }
        }
        const { Graph } = await import('../../tools/visualization/graph.js');
        const { renderGraph, GRAPH_ENGINES } = await import('../../tools/visualization/render.js');
        if (!(GRAPH_ENGINES as readonly string[]).includes(opts.engine))
          throw new UsageError(
            `invalid value for --engine: \`${opts.engine}\` (choose from ${GRAPH_ENGINES.join(', ')})`,
          );
        const output =
          opts.outputFile ??
          `${roots.map((node) => String(node.pk)).join('.')}.${opts.engine}.${opts.outputFormat}`;
        cli.out.info(`Initiating graphviz engine: ${opts.engine}`);
        const graph = new Graph({ storage, nodeIdType: opts.identifier, engine: opts.engine });
        const linkTypes = LINK_TYPE_SETS[opts.linkTypes];
        const types = linkTypes.length === 0 ? undefined : linkTypes.map((type) => type as LinkType);
        for (const root of roots) {
          cli.out.info(
            `Recursing ancestors of <${root.constructor.name}: uuid: ${root.uuid} (pk: ${root.pk})>, max depth=${ancestorDepth ?? 'None'}`,
          );
          await graph.recurseAncestors(root, {
            ...(ancestorDepth === undefined ? {} : { depth: ancestorDepth }),
            ...(types === undefined ? {} : { linkTypes: types }),
            annotateLinks: 'both',
            includeProcessOutputs: opts.processOut === true,
            ...(opts.highlightClasses === undefined ? {} : { highlightClasses: opts.highlightClasses }),
          });
          cli.out.info(
            `Recursing descendants of <${root.constructor.name}: uuid: ${root.uuid} (pk: ${root.pk})>, max depth=${descendantDepth ?? 'None'}`,
          );
          await graph.recurseDescendants(root, {
            ...(descendantDepth === undefined ? {} : { depth: descendantDepth }),
            ...(types === undefined ? {} : { linkTypes: types }),
            annotateLinks: 'both',
            includeProcessInputs: opts.processIn === true,
            ...(opts.highlightClasses === undefined ? {} : { highlightClasses: opts.highlightClasses }),
          });
        }
        const { writeFile } = await import('node:fs/promises');
        await writeFile(
          output,
          await renderGraph(graph.toDot(), opts.outputFormat, opts.engine as (typeof GRAPH_ENGINES)[number]),
        );
        if (opts.json === true) {
          cli.out.printJson({
            file: output,
            nodes: [...graph.nodes].sort((a, b) => a - b),
            edges: graph.edges.length,
          });
          return;
        }
        cli.out.success(`Output written to \`${output}\``);
      },
    );
  return graph;
}
