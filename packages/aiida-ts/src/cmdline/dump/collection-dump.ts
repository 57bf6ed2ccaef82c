import { basename, resolve } from 'node:path';
import { Command } from 'commander';
import type { Cli } from '../cli.js';
import { loadGroupArgument } from '../group/manage.js';
import { resolveArgument } from '../utils/arguments.js';
import {
  addBaseDumpOptions,
  addCollectionDumpOptions,
  collectionDumpOptions,
  NEW_FEATURE_WARNING,
  type CollectionDumpFlags,
} from './options.js';

/** `verdi group dump GROUP`: the processes of a group as folder trees. */
export function groupDumpCommand(cli: Cli): Command {
  const command = new Command('dump')
    .description('Dump data of an AiiDA group to disk.')
    .argument('<group>', 'Pk, uuid or label of the group.');
  addCollectionDumpOptions(addBaseDumpOptions(command), { profile: false }).action(
    async (identifier: string, flags: CollectionDumpFlags) => {
      const group = await loadGroupArgument(cli, identifier, 'GROUP');
      const options = collectionDumpOptions(flags);
      cli.out.warning(NEW_FEATURE_WARNING);
      let output: string;
      if (flags.path === undefined) {
        output = resolve(group.label);
        cli.out.report(`No output path specified. Using default: \`${output}\``);
      } else {
        output = resolve(flags.path);
        cli.out.report(`Using specified output path: \`${output}\``);
      }
      if (options.dryRun && options.overwrite)
        cli.out.warning(
          '`--dry-run` and `--overwrite` selected (or set in config). Overwrite operation will NOT be performed.',
        );
      const storage = await cli.storage();
      const { dumpGroup } = await import('../../tools/dumping/index.js');
      try {
        await dumpGroup(group, { ...options, outputPath: output, storage, report: (m) => cli.out.report(m) });
      } catch (error) {
        return cli.out.critical(
          `Unexpected error during dump of group ${group.label}:\n (${(error as Error).message}).`,
        );
      }
      if (options.dryRun) cli.out.success('Dry run completed.');
      else
        cli.out.success(`Raw files for group \`${group.label}\` dumped into folder \`${basename(output)}\`.`);
    },
  );
  return command;
}

/** The user, computer and code filters of `verdi profile dump`, resolved (unknown ones are usage errors). */
async function entityFilters(
  cli: Cli,
  flags: { codes?: string[]; computers?: string[]; user?: string },
): Promise<{ user?: string; computers?: string[]; codes?: string[] }> {
  const storage = await cli.storage();
  const filters: { user?: string; computers?: string[]; codes?: string[] } = {};
  if (flags.user !== undefined) {
    const { User } = await import('../../orm/entities/user.js');
    const email = flags.user;
    filters.user = (await resolveArgument('-u/--user', () => User.get(email, { storage }))).email;
  }
  if (flags.computers !== undefined) {
    const { loadComputer } = await import('../../orm/entities/computer.js');
    filters.computers = [];
    for (const identifier of flags.computers)
      filters.computers.push(
        (await resolveArgument('-Y/--computers', () => loadComputer(identifier, { storage }))).uuid,
      );
  }
  if (flags.codes !== undefined) {
    const { loadCode } = await import('../../orm/nodes/data/code/load-code.js');
    filters.codes = [];
    for (const identifier of flags.codes)
      filters.codes.push((await resolveArgument('-X/--codes', () => loadCode(identifier, { storage }))).uuid);
  }
  return filters;
}

/** `verdi profile dump`: the processes of the profile, organised by group. */
export function profileDumpCommand(cli: Cli): Command {
  const command = new Command('dump').description("Dump all data in an AiiDA profile's storage to disk.");
  addBaseDumpOptions(command)
    .option('-a, --all', 'Include all entries, disregarding all other filter options and flags.')
    .option('-G, --groups <groups...>', 'One or multiple groups identified by their ID, UUID or label.')
    .option('-X, --codes <codes...>', 'One or multiple codes identified by their ID, UUID or label.')
    .option(
      '-Y, --computers <computers...>',
      'One or multiple computers identified by their ID, UUID or label.',
    )
    .option('-u, --user <email>', 'Email of the user.');
  addCollectionDumpOptions(command, { profile: true }).action(
    async (
      flags: CollectionDumpFlags & {
        all?: boolean;
        groups?: string[];
        codes?: string[];
        computers?: string[];
        user?: string;
      },
    ) => {
      const options = collectionDumpOptions(flags);
      cli.out.warning(NEW_FEATURE_WARNING);
      const profile = await cli.profile();
      let output: string;
      if (flags.path === undefined) {
        output = resolve(profile.name);
        cli.out.report(`No output path specified. Using default: '${output}'`);
      } else {
        output = resolve(flags.path);
        cli.out.report(`Using specified output path: \`${output}\``);
      }
      if (flags.organizeByGroups === false && flags.relabelGroups !== false) {
        cli.out.warning('`relabel_groups` is True, but `organize_by_groups` is False.');
        return;
      }
      if (options.dryRun && options.overwrite) {
        cli.out.warning(
          '`--dry-run` and `--overwrite` selected (or set in config). Overwrite operation will NOT be performed.',
        );
        return;
      }
      const groupIdentifiers = flags.groups ?? [];
      const groups = [];
      for (const identifier of groupIdentifiers)
        groups.push(await loadGroupArgument(cli, identifier, '-G/--groups'));
      const storage = await cli.storage();
      const entities = await entityFilters(cli, flags);
      const { dumpProfile, profileDumpSelects } = await import('../../tools/dumping/index.js');
      const all = flags.all === true;
      const selection = { ...options, ...entities, all, groups: groupIdentifiers };
      if (!profileDumpSelects(selection)) {
        if (!options.dryRun)
          cli.out.warning(
            'No profile data explicitly selected. No dump will be performed. Either select everything via ' +
              '`all_entries=True`, or filter via `groups`, `user`, etc.',
          );
        else cli.out.success('Dry run completed.');
        return;
      }
      // `--all`, or filters without groups: every group is looked at, its processes filtered.
      if (all || groupIdentifiers.length === 0) {
        const { Group } = await import('../../orm/entities/group.js');
        groups.splice(0, groups.length, ...(await Group.all({ typeString: null }, { storage })));
      }
      cli.out.report(
        `Starting dump of profile \`${profile.name}\` in ${options.dryRun ? 'dry_run' : options.overwrite ? 'overwrite' : 'incremental'} mode...`,
      );
      try {
        await dumpProfile(groups, {
          ...selection,
          outputPath: output,
          storage,
          report: (m) => cli.out.report(m),
        });
      } catch (error) {
        return cli.out.critical(
          `Unexpected error during dump of ${profile.name}:\n (${(error as Error).message}).`,
        );
      }
      if (options.dryRun) cli.out.success('Dry run completed.');
      else
        cli.out.success(
          `Raw files for profile \`${profile.name}\` dumped into folder \`${basename(output)}\`.`,
        );
    },
  );
  return command;
}
