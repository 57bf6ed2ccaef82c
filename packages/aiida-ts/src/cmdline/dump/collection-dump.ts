import { basename, resolve } from 'node:path';
import { Command } from 'commander';
import type { Cli } from '../cli.js';
import { loadGroupArgument } from '../group/manage.js';
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

/** `verdi profile dump`: the processes of the profile, organised by group. */
export function profileDumpCommand(cli: Cli): Command {
  const command = new Command('dump').description("Dump all data in an AiiDA profile's storage to disk.");
  addBaseDumpOptions(command)
    .option('-a, --all', 'Include all entries, disregarding all other filter options and flags.')
    .option('-G, --groups <groups...>', 'One or multiple groups identified by their ID, UUID or label.');
  addCollectionDumpOptions(command, { profile: true }).action(
    async (flags: CollectionDumpFlags & { all?: boolean; groups?: string[] }) => {
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
      const { dumpProfile, profileDumpSelects } = await import('../../tools/dumping/index.js');
      const all = flags.all === true;
      const selection = { ...options, all, groups: groupIdentifiers };
      if (!profileDumpSelects(selection)) {
        if (!options.dryRun)
          cli.out.warning(
            'No profile data explicitly selected. No dump will be performed. Either select everything via ' +
              '`all_entries=True`, or filter via `groups`, `user`, etc.',
          );
        else cli.out.success('Dry run completed.');
        return;
      }
      if (all) {
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
