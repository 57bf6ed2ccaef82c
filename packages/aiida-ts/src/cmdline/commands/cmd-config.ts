import { Command } from 'commander';
import { defineCommandGroup, type Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';
import { configCachingCommand } from '../engine-commands.js';

function display(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(String).join('\n');
  return JSON.stringify(value);
}

async function scopeOf(cli: Cli, globally: boolean, globalOnly: boolean) {
  const profile = globally || globalOnly ? undefined : await cli.maybeProfile();
  return {
    scope: profile?.name,
    text: profile === undefined ? 'globally' : `for '${profile.name}' profile`,
  };
}

export default defineCommandGroup({
  name: 'config',
  description: 'Manage the aiida-ts configuration (options, globally or per profile).',
  build(cli: Cli) {
    const group = new Command('config');

    group
      .command('list')
      .description(
        'List the options and their values for the current profile, optionally filtered by a prefix.',
      )
      .argument('[prefix]', 'Only options whose name starts with this.', '')
      .option('-d, --description', 'Include the description of each option.')
      .option('--json', 'Print the options as JSON: {name: {value, source}}.')
      .action(async (prefix: string, opts: { description?: boolean; json?: boolean }) => {
        cli.out.json = opts.json === true;
        const config = await cli.config();
        const profile = await cli.maybeProfile();
        if (profile === undefined)
          cli.out.warning('no profiles configured: run `verdi presto` to create one');
        const values = [...config.getOptions(profile?.name).entries()]
          .filter(([name, { option }]) => name.startsWith(prefix) && option.deprecatedBy === undefined)
          .sort(([a], [b]) => a.localeCompare(b));
        if (opts.json === true) {
          cli.out.printJson(
            Object.fromEntries(values.map(([name, { source, value }]) => [name, { value, source }])),
          );
          return;
        }
        const headers = ['name', 'source', 'value', ...(opts.description ? ['description'] : [])];
        const rows = values.map(([name, { option, source, value }]) => [
          name,
          source,
          display(value),
          ...(opts.description ? [option.description] : []),
        ]);
        cli.out.table(headers, rows);
      });

    group
      .command('show')
      .description('Show the schema, default and values of one option.')
      .argument('<option>', 'Name of the option.')
      .action(async (name: string) => {
        const { getOption, optionJsonSchema } = await import('../../config/options.js');
        const option = getOption(name);
        const config = await cli.config();
        const profile = await cli.maybeProfile();
        const options = config.options;
        const values: Record<string, unknown> = {
          default: option.default === undefined ? '<NOTSET>' : option.default,
          global: name in options ? options[name] : '<NOTSET>',
        };
        if (profile === undefined)
          cli.out.warning('no profiles configured: run `verdi presto` to create one');
        else values.profile = profile.getOption(name) ?? '<NOTSET>';
        cli.out.printYaml({ schema: optionJsonSchema(option), values });
      });

    group
      .command('get')
      .description(
        'Print the value of an option for the current profile (profile, else global, else default).',
      )
      .argument('<option>', 'Name of the option.')
      .option('--json', 'Print the value as JSON.')
      .action(async (name: string, opts: { json?: boolean }) => {
        const { getOption } = await import('../../config/options.js');
        getOption(name);
        const config = await cli.config();
        const profile = await cli.maybeProfile();
        const value = config.getOption(name, profile?.name);
        if (opts.json === true) cli.out.printJson(value ?? null);
        else if (value !== undefined) cli.out.echo(display(value));
      });

    group
      .command('set')
      .description('Set an option, for the current profile or globally. List values are split on whitespace.')
      .argument('<option>', 'Name of the option.')
      .argument('<value>', 'The value.')
      .option('-g, --global', 'Apply the option configuration wide.')
      .option('-a, --append', 'Append the value to an existing list.')
      .option('-r, --remove', 'Remove the value from an existing list.')
      .action(
        async (
          name: string,
          text: string,
          opts: { global?: boolean; append?: boolean; remove?: boolean },
        ) => {
          const { getOption, parseOptionValue, validateOption } = await import('../../config/options.js');
          if (opts.append === true && opts.remove === true)
            throw new UsageError('cannot flag both --append and --remove');
          const option = getOption(name);
          const config = await cli.config();
          const { scope, text: scopeText } = await scopeOf(cli, opts.global === true, option.globalOnly);
          const stored = config.update((fresh) => {
            let value: unknown;
            if (opts.append === true || opts.remove === true) {
              if (option.kind !== 'string-list')
                cli.out.critical(`cannot append/remove to the value of \`${name}\``);
              const current = (fresh.getOption(name, scope) as string[] | undefined) ?? [];
              value =
                opts.append === true
                  ? [...new Set([...current, text])]
                  : current.filter((item) => item !== text);
              value = validateOption(name, value);
            } else {
              value = parseOptionValue(name, text);
            }
            return fresh.setOption(name, value, scope);
          });
          cli.out.success(`'${name}' set to ${JSON.stringify(stored)} ${scopeText}`);
          if (option.requiresDaemonRestart)
            cli.out.report('Run `verdi daemon restart` for this change to take effect.');
        },
      );

    group
      .command('unset')
      .description('Unset an option, for the current profile or globally.')
      .argument('<option>', 'Name of the option.')
      .option('-g, --global', 'Unset the option configuration wide.')
      .action(async (name: string, opts: { global?: boolean }) => {
        const { getOption } = await import('../../config/options.js');
        const option = getOption(name);
        const config = await cli.config();
        const { scope, text: scopeText } = await scopeOf(cli, opts.global === true, option.globalOnly);
        config.update((fresh) => fresh.unsetOption(name, scope));
        cli.out.success(`'${name}' unset ${scopeText}`);
        if (option.requiresDaemonRestart)
          cli.out.report('Run `verdi daemon restart` for this change to take effect.');
      });

    group.addCommand(configCachingCommand(cli));

    return group;
  },
});
