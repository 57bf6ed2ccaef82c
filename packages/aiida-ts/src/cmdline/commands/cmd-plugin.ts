import { Command } from 'commander';
import { defineCommandGroup, type Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';

/** Every entry point group aiida-ts registers plugins in, with the names registered in each, sorted. */
async function registeredGroups(): Promise<Map<string, string[]>> {
  const { wirePlugins } = await import('../../config/plugin-wiring.js');
  wirePlugins();
  const { EntryPointGroup, listEntryPoints } = await import('../../plugins/entry-points.js');
  const { transportEntryPoints } = await import('../../transports/registry.js');
  const { listSchedulerEntryPoints } = await import('../../schedulers/registry.js');
  const { listStoragePlugins } = await import('../../storage/factory.js');
  await import('../../orm.js');
  const { listNodeClasses } = await import('../../orm/nodes/registry.js');
  const groups = new Map<string, string[]>();
  for (const group of Object.values(EntryPointGroup)) groups.set(group, listEntryPoints(group));
  for (const info of listNodeClasses()) {
    const names = groups.get(info.group) ?? [];
    if (!names.includes(info.name)) names.push(info.name);
    groups.set(info.group, names);
  }
  groups.set('aiida.schedulers', listSchedulerEntryPoints());
  groups.set('aiida.storage', listStoragePlugins());
  groups.set('aiida.transports', transportEntryPoints());
  return new Map([...groups].map(([group, names]) => [group, [...names].sort()] as const).sort());
}

/** What the command reads of a process spec's ports (plumpy's port descriptions). */
type PortNamespace = Iterable<[string, { getDescription(): Record<string, unknown> }]>;

/** The lines aiida-core prints for a process plugin: its description, inputs, outputs and exit codes. */
function describeProcess(cls: { spec(): unknown; name: string }): string[] {
  const spec = cls.spec() as {
    inputs: PortNamespace;
    outputs: PortNamespace;
    exitCodes: { labels(): string[]; get(label: string): { status: number; message: string | null } };
  };
  const lines = [`Description:\n\n    ${cls.name}\n`];
  const ports = (title: string, namespace: PortNamespace): void => {
    const rows = [...namespace].filter(([name]) => !name.startsWith('_'));
    if (rows.length === 0) return;
    lines.push(`${title}:`);
    const width = Math.max(...rows.map(([name]) => name.length));
    for (const [name, port] of rows) {
      const description = port.getDescription();
      const type = typeof description['valid_type'] === 'string' ? description['valid_type'] : '';
      const required = description['required'] === 'True' ? 'required' : 'optional';
      const help = typeof description['help'] === 'string' ? `  ${description['help']}` : '';
      lines.push(`    ${name.padStart(width)}:  ${required.padEnd(8)}  ${type}${help}`.trimEnd());
    }
    lines.push('');
  };
  ports('Inputs', spec.inputs);
  ports('Outputs', spec.outputs);
  const labels = spec.exitCodes.labels();
  if (labels.length > 0) {
    lines.push('Exit codes:');
    const codes = labels
      .map((label) => ({ label, ...spec.exitCodes.get(label) }))
      .sort((a, b) => a.status - b.status);
    const width = Math.max(...codes.map((code) => String(code.status).length));
    for (const code of codes)
      lines.push(`    ${String(code.status).padStart(width)}:  ${code.message ?? code.label}`);
  }
  return lines;
}

/** `verdi plugin list [GROUP] [ENTRY_POINT]` (aiida-core's): the entry point groups, a group's plugins, one plugin. */
async function pluginList(
  cli: Cli,
  group: string | undefined,
  entryPoint: string | undefined,
): Promise<void> {
  const groups = await registeredGroups();
  if (group === undefined) {
    cli.out.report('Registered entry point groups:');
    for (const name of groups.keys()) cli.out.echo(`* ${name}`);
    cli.out.echo('');
    cli.out.report('Pass one of the groups as an additional argument to show the registered plugins');
    return;
  }
  const names = groups.get(group);
  if (names === undefined) {
    throw new UsageError(
      `invalid value for GROUP: '${group}' is not one of ${[...groups.keys()].join(', ')}`,
    );
  }
  if (entryPoint === undefined) {
    if (names.length === 0) {
      cli.out.report(`No plugins found for group ${group}`);
      return;
    }
    cli.out.report(`Registered entry points for ${group}:`);
    for (const name of names) cli.out.echo(`* ${name}`);
    cli.out.echo('');
    cli.out.report('Pass the entry point as an argument to display detailed information');
    return;
  }
  if (!names.includes(entryPoint)) {
    throw new UsageError(
      `invalid value for ENTRY_POINT: no entry point '${entryPoint}' in the group '${group}'`,
    );
  }
  const { EntryPointGroup, loadEntryPoint } = await import('../../plugins/entry-points.js');
  const processGroups: readonly string[] = [EntryPointGroup.CALCULATIONS, EntryPointGroup.WORKFLOWS];
  if (processGroups.includes(group)) {
    const cls = (await loadEntryPoint(group as typeof EntryPointGroup.CALCULATIONS, entryPoint)) as {
      spec(): unknown;
      name: string;
    };
    for (const line of describeProcess(cls)) cli.out.echo(line);
    return;
  }
  cli.out.echo(`${group}:${entryPoint}`);
}

export default defineCommandGroup({
  name: 'plugin',
  description: 'Inspect AiiDA plugins.',
  build(cli: Cli): Command {
    const command = new Command('plugin').description('Inspect AiiDA plugins.');
    command
      .command('list')
      .description(
        'Display a list of all available plugins: without arguments the entry point groups, with a GROUP its ' +
          'entry points, with an ENTRY_POINT too what it is (the inputs, outputs and exit codes of a process).',
      )
      .argument('[group]', 'An entry point group, e.g. aiida.calculations.')
      .argument('[entry_point]', 'An entry point of the group, e.g. core.arithmetic.add.')
      .action(async (group: string | undefined, entryPoint: string | undefined) => {
        await pluginList(cli, group, entryPoint);
      });
    return command;
  },
});
