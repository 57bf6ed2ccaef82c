import { Command } from 'commander';
import type { Cli } from '../cli.js';
import { loadDataArgument, loadDataArguments } from './data-argument.js';
import { dictFormatOption, formatDictionary, type DictFormat } from './dict-format.js';

/** `verdi data core.dict show`: the content of Dict nodes. */
export function dictCommand(cli: Cli): Command {
  const dict = new Command('core.dict').description('Manipulate Dict objects (python dictionaries).');
  dict
    .command('show')
    .description('Show contents of Dict nodes.')
    .argument('<data...>', 'Pks, uuids (or prefixes) or labels of the Dict nodes.')
    .addOption(dictFormatOption())
    .action(async (identifiers: string[], opts: { format: DictFormat }) => {
      const { Dict } = await import('../../orm/nodes/data/base.js');
      for (const node of await loadDataArguments(cli, identifiers, Dict, 'core.dict'))
        cli.out.echo(formatDictionary(node.getDict(), opts.format));
    });
  return dict;
}

/** `verdi data core.array show`: the arrays of ArrayData nodes as nested lists. */
export function arrayCommand(cli: Cli): Command {
  const array = new Command('core.array').description('Manipulate ArrayData objects (numpy arrays).');
  array
    .command('show')
    .description('Visualize ArrayData objects.')
    .argument('<data...>', 'Pks, uuids (or prefixes) or labels of the ArrayData nodes.')
    .addOption(dictFormatOption())
    .action(async (identifiers: string[], opts: { format: DictFormat }) => {
      const { ArrayData } = await import('../../orm/nodes/data/array/array.js');
      for (const node of await loadDataArguments(cli, identifiers, ArrayData, 'core.array')) {
        const arrays: Record<string, unknown> = {};
        for (const name of node.getArrayNames()) {
          // bigints (int64 arrays) become numbers for printing, as `tolist()` gives Python ints.
          const nested = (await node.getArray(name)).toNested();
          arrays[name] = JSON.parse(
            JSON.stringify(nested, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)),
          );
        }
        cli.out.echo(formatDictionary(arrays, opts.format));
      }
    });
  return array;
}

/** `verdi data core.singlefile content`: the text of a SinglefileData. */
export function singlefileCommand(cli: Cli): Command {
  const singlefile = new Command('core.singlefile').description('Work with SinglefileData nodes.');
  singlefile
    .command('content')
    .description('Show the content of the file.')
    .argument('<datum>', 'Pk, uuid (or prefix) or label of the SinglefileData.')
    .action(async (identifier: string) => {
      const { SinglefileData } = await import('../../orm/nodes/data/files.js');
      const node = await loadDataArgument(cli, identifier, SinglefileData, 'core.singlefile', 'DATUM');
      let content: string;
      try {
        content = await node.getContent('utf8');
      } catch (error) {
        return cli.out.critical(
          `could not read the content for SinglefileData<${String(node.pk)}>: ${(error as Error).message}`,
        );
      }
      cli.out.echo(content);
    });
  return singlefile;
}
