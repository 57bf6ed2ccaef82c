import { Command, Option } from 'commander';
import { loadRemoteData, printRemoteFile } from '../calcjob/shared.js';
import { defineCommandGroup, type Cli } from '../cli.js';
import { arrayCommand, dictCommand, singlefileCommand } from '../data/simple-types.js';
import { structureCommand } from '../data/structure.js';

/** `drwxr-xr-x` from a `st_mode` (Python's `stat.filemode`). */
export function fileMode(mode: number): string {
  const kinds: Record<number, string> = {
    0o040000: 'd',
    0o120000: 'l',
    0o100000: '-',
    0o020000: 'c',
    0o060000: 'b',
    0o010000: 'p',
    0o140000: 's',
  };
  const kind = kinds[mode & 0o170000] ?? '?';
  const bits = ['r', 'w', 'x'];
  let text = kind;
  for (let shift = 6; shift >= 0; shift -= 3) {
    for (let i = 0; i < 3; i += 1) text += mode & (1 << (shift + 2 - i)) ? bits[i] : '-';
  }
  return text;
}

/** `12.3 KiB`-style size, as humans read it. */
export function humanSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${String(bytes)} B` : `${value.toFixed(2)} ${units[unit] ?? ''}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `05 Mar 2024 14:07` (local time) of a time in seconds since the epoch. */
function formatMtime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getDate())} ${MONTHS[d.getMonth()] ?? ''} ${String(d.getFullYear())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

async function remoteLs(
  cli: Cli,
  identifier: string,
  relpath: string,
  opts: { long?: boolean },
): Promise<void> {
  const remote = await loadRemoteData(cli, identifier);
  const { isAiidaError } = await import('../../errors.js');
  let entries;
  try {
    entries = await remote.listdirWithAttributes(relpath);
  } catch (error) {
    if (isAiidaError(error) && error.name !== 'TransportError') {
      return cli.out.critical(
        `cannot list \`${relpath}\` of RemoteData<${String(remote.pk)}>: ${error.message}`,
      );
    }
    throw error;
  }
  for (const entry of entries) {
    const name = entry.isdir ? cli.out.colors.blue(entry.name) : entry.name;
    if (opts.long === true) {
      const { stMode, stSize, stMtime } = entry.attributes;
      cli.out.echo(`${fileMode(stMode)} ${String(stSize).padStart(10)}  ${formatMtime(stMtime)}  ${name}`);
    } else {
      cli.out.echo(name);
    }
  }
}

async function remoteSize(
  cli: Cli,
  identifier: string,
  opts: { method: 'du' | 'stat'; path: string; returnBytes?: boolean },
): Promise<void> {
  const remote = await loadRemoteData(cli, identifier);
  const computer = await remote.getComputer();
  const full = remote.resolvePath(opts.path);
  const { isAiidaError } = await import('../../errors.js');
  let bytes: number | undefined;
  let method = opts.method;
  try {
    bytes = await remote.withTransport(async (transport) => {
      if (!(await transport.pathExists(full))) return undefined;
      if (method === 'du') {
        const { escapeForBash } = await import('../../transports/escaping.js');
        const result = await transport.execCommandWait(`du -s --bytes ${escapeForBash(full)}`);
        const size = /^(\d+)\s/.exec(result.stdout);
        if (result.retval === 0 && size !== null) return Number(size[1]);
        // `du` is missing or not GNU: count with stat instead, as aiida does.
        cli.out.warning('`du` failed on the computer: counting the file sizes instead (method stat)');
        method = 'stat';
      }
      return remote.getSizeOnDisk(opts.path, transport);
    });
  } catch (error) {
    if (isAiidaError(error) && error.name !== 'TransportError') {
      return cli.out.critical(
        `cannot size \`${opts.path}\` of RemoteData<${String(remote.pk)}>: ${error.message}`,
      );
    }
    throw error;
  }
  if (bytes === undefined) {
    cli.out.critical(`the path \`${full}\` does not exist on ${computer?.label ?? 'the computer'}`);
  }
  if (opts.returnBytes === true) {
    cli.out.echo(String(bytes));
    return;
  }
  cli.out.success(
    `Estimated total size of path \`${full}\` on the Computer <${computer?.label ?? ''}> obtained via \`${method}\`: ` +
      humanSize(bytes),
  );
}

export default defineCommandGroup({
  name: 'data',
  description: 'Inspect, create and manage data nodes.',
  build(cli) {
    const group = new Command('data').description('Inspect, create and manage data nodes.');
    const remote = group.command('core.remote').description('Manipulate RemoteData objects.');

    remote
      .command('ls')
      .description('List the content of a RemoteData (or of PATH in it).')
      .argument('<datum>', 'Pk, uuid (or prefix) or label of the RemoteData.')
      .argument('[path]', 'A folder relative to the remote folder.', '.')
      .option('-l, --long', 'Show the mode, size and modification time of each entry.')
      .action((identifier: string, relpath: string, opts: { long?: boolean }) =>
        remoteLs(cli, identifier, relpath, opts),
      );

    remote
      .command('cat')
      .description('Print a file of a RemoteData.')
      .argument('<datum>', 'Pk, uuid (or prefix) or label of the RemoteData.')
      .argument('<path>', 'A file relative to the remote folder.')
      .action(async (identifier: string, relpath: string) => {
        await printRemoteFile(cli, await loadRemoteData(cli, identifier), relpath);
      });

    remote
      .command('show')
      .description('Show where a RemoteData is: its computer and its full path.')
      .argument('<datum>', 'Pk, uuid (or prefix) or label of the RemoteData.')
      .action(async (identifier: string) => {
        const datum = await loadRemoteData(cli, identifier);
        const computer = await datum.getComputer();
        cli.out.echo('- Remote computer name:');
        cli.out.echo(`  ${computer?.label ?? 'None'}`);
        cli.out.echo('- Remote folder full path:');
        cli.out.echo(`  ${datum.getRemotePath()}`);
      });

    remote
      .command('size')
      .description('Show the disk usage of a RemoteData (or of PATH in it) on its computer.')
      .argument('<datum>', 'Pk, uuid (or prefix) or label of the RemoteData.')
      .addOption(
        new Option('-m, --method <method>', 'How to measure: `du` on the computer, or the sum of file sizes.')
          .choices(['du', 'stat'])
          .default('du'),
      )
      .option('-p, --path <path>', 'A path relative to the remote folder.', '.')
      .option('-b, --return-bytes', 'Print the number of bytes only.')
      .action((identifier: string, opts: { method: 'du' | 'stat'; path: string; returnBytes?: boolean }) =>
        remoteSize(cli, identifier, opts),
      );

    group.addCommand(dictCommand(cli));
    group.addCommand(arrayCommand(cli));
    group.addCommand(structureCommand(cli));
    group.addCommand(singlefileCommand(cli));

    return group;
  },
});
