import { Command } from 'commander';
import type { Profile } from '../../config/profile.js';
import { defineCommandGroup, type Cli } from '../cli.js';
import { CliExit, ExitCode, UsageError } from '../exit-codes.js';
import { printIntegrityProblems, storageIntegrityCommand } from '../storage/integrity.js';

async function pluginOf(profile: Profile) {
  const { ensureContainerRepositoryFactory } = await import('../../config/repository-wiring.js');
  ensureContainerRepositoryFactory();
  const { getStoragePlugin } = await import('../../storage/factory.js');
  const plugin = getStoragePlugin(profile.storageBackend);
  return { plugin, config: plugin.parseConfig(profile.storageConfig) as unknown };
}

export default defineCommandGroup({
  name: 'storage',
  description: 'Inspect and manage the storage of a profile.',
  build(cli: Cli) {
    const group = new Command('storage');

    group
      .command('version')
      .description('Print the schema version this code writes and the one of the profile storage.')
      .option('--json', 'Print {head, profile} as JSON.')
      .action(async (opts: { json?: boolean }) => {
        cli.out.json = opts.json === true;
        const profile = await cli.profile();
        const { plugin, config } = await pluginOf(profile);
        const head = plugin.versionHead();
        const current = await plugin.versionProfile(config);
        if (opts.json === true) {
          cli.out.printJson({ profile: profile.name, head, version: current });
          return;
        }
        cli.out.echo(`Latest storage schema version: '${head}'`);
        cli.out.echo(`Storage schema version of '${profile.name}': '${current ?? 'none'}'`);
      });

    group
      .command('migrate')
      .description('Migrate the storage of the profile to the schema version of this code. Not reversible.')
      .option('-f, --force', 'Do not ask for confirmation.')
      .action(async (opts: { force?: boolean }) => {
        const profile = await cli.profile();
        const { plugin, config } = await pluginOf(profile);
        const current = await plugin.versionProfile(config);
        const head = plugin.versionHead();
        if (current === head) {
          cli.out.success(`storage of \`${profile.name}\` is already at the latest schema version '${head}'`);
          return;
        }
        if (opts.force !== true) {
          cli.out.warning('Migrating your storage might take a while and is not reversible.');
          cli.out.warning(
            'Before continuing, make sure the daemon is stopped and you have a backup of your data.',
          );
          if (!(await cli.prompt.confirm('Are you sure you want to migrate the storage?', false))) {
            cli.out.critical('Migration cancelled.');
          }
        }
        // as aiida-core: migrating needs the profile alone (refused while a daemon or a script uses it)
        const { ProfileAccessManager } = await import('../../config/profile-access.js');
        const { getConfigDir } = await import('../../config/manager.js');
        using _lock = new ProfileAccessManager(profile.name, { configDir: getConfigDir() }).lock(
          'verdi storage migrate',
        );
        const report = await plugin.migrate(config);
        cli.out.report(`applied: ${report.applied.length === 0 ? 'nothing' : report.applied.join(', ')}`);
        cli.out.success(`Migration completed: '${report.from ?? 'none'}' -> '${report.to}'.`);
      });

    group
      .command('info')
      .description('Summarise the contents of the storage: entity counts, repository, location.')
      .option(
        '--detailed',
        'Also count nodes per type, describe the repository in detail and check its structure (the objects nodes ' +
          'refer to, packs; no hashing): exit code 1 when data is missing.',
      )
      .option('--json', 'Print the summary as JSON.')
      .action(async (opts: { detailed?: boolean; json?: boolean }) => {
        cli.out.json = opts.json === true;
        const storage = await cli.storage();
        const info = await storage.getInfo({ detailed: opts.detailed === true });
        // The structural check reads every node's repository references (seconds at millions of nodes): only when
        // asked for details, as `verdi storage integrity` is the command for it.
        const integrity =
          opts.detailed === true ? await storage.checkIntegrity({ hashes: false }) : undefined;
        if (opts.json === true)
          cli.out.printJson(
            integrity === undefined
              ? info
              : { ...info, integrity: { ok: integrity.ok, problems: integrity.problems } },
          );
        else cli.out.printYaml(info);
        if (integrity === undefined) return;
        if (opts.json !== true && printIntegrityProblems(cli, integrity))
          cli.out.report('run `verdi storage integrity` for a full check, hashes included');
        if (!integrity.ok) throw new CliExit(ExitCode.CRITICAL);
      });

    group
      .command('maintain')
      .description(
        'Perform maintenance on the storage (pack loose objects, clean up). By default only operations that are ' +
          'safe while the profile is in use; `--full` also repacks and vacuums, and needs that nothing else uses it.',
      )
      .option(
        '--full',
        'Perform all maintenance, including operations that need exclusive use of the storage.',
      )
      .option('--no-repack', 'With --full, do not repack the existing packs.')
      .option('--compress', 'Compress objects while packing, where it pays.')
      .option('--dry-run', 'Only report what would be done.')
      .option(
        '--no-verify',
        'With --full, do not check every object before changing anything (by default a missing or corrupt object stops it).',
      )
      .option('-f, --force', 'Do not ask for confirmation.')
      .option('--json', 'Print the report as JSON.')
      .action(
        async (opts: {
          full?: boolean;
          repack: boolean;
          compress?: boolean;
          verify: boolean;
          dryRun?: boolean;
          force?: boolean;
          json?: boolean;
        }) => {
          cli.out.json = opts.json === true;
          const full = opts.full === true;
          if (full) {
            cli.out.warning(
              'Full maintenance needs exclusive use of the storage: stop the daemon and every other process using the profile.',
            );
          } else {
            cli.out.report(
              'This command will perform all maintenance operations on the internal storage that can be safely executed ' +
                'while still running AiiDA. `--full` performs all of them but needs exclusive use.',
            );
          }
          if (opts.force !== true && opts.dryRun !== true) {
            if (!(await cli.prompt.confirm('Are you sure you want continue in this mode?', false))) {
              cli.out.critical('Maintenance cancelled.');
            }
          }
          const storage = await cli.storage();
          const report = await storage.maintain({
            live: !full,
            dryRun: opts.dryRun === true,
            ...(full ? { repack: opts.repack, verify: opts.verify } : {}),
            compress: opts.compress === true,
          });
          if (opts.json === true) {
            cli.out.printJson(report);
            return;
          }
          for (const action of report.actions) cli.out.report(action);
          const verb = opts.dryRun === true ? 'would be' : 'were';
          cli.out.success(
            `${report.looseObjectsPacked} loose objects ${verb} packed, ${report.objectsDeleted} objects ${verb} deleted ` +
              `(${report.bytesFreed} bytes).`,
          );
        },
      );

    group.addCommand(storageIntegrityCommand(cli));
    group
      .command('backup')
      .description(
        'Back up the storage of the profile (database and file repository) into a new folder of DEST, while it is in ' +
          'use: the database as one snapshot, then the files (those unchanged since the previous backup hard-linked to ' +
          'it). DEST/last-backup points to the newest backup; restore by copying its `database.sqlite` (or loading ' +
          '`db.psql` with psql) and `container` back.',
      )
      .argument('<dest>', 'The folder to back up into (created if missing); local paths only.')
      .option('--keep <n>', 'Number of previous backups to keep in DEST besides the new one.', '1')
      .option('--pg-dump-exe <path>', 'The pg_dump executable for a core.psql_dos profile.', 'pg_dump')
      .action(async (dest: string, opts: { keep: string; pgDumpExe: string }) => {
        const keep = Number(opts.keep);
        if (!Number.isInteger(keep) || keep < 0)
          throw new UsageError(`invalid value for --keep: ${opts.keep} is not a whole number ≥ 0`);
        if (/^[^/]*:/.test(dest))
          throw new UsageError(
            `remote destinations are not supported: back up to a local folder (got \`${dest}\`)`,
          );
        const profile = await cli.profile();
        const { backupStorage } = await import('../../storage/backup.js');
        const result = await backupStorage(
          {
            profileName: profile.name,
            storageBackend: profile.storageBackend,
            storageConfig: profile.storageConfig,
            profileData: profile.toJSON(),
          },
          dest,
          { keep, pgDumpExe: opts.pgDumpExe },
        );
        for (const removed of result.removed) cli.out.report(`deleted the older backup \`${removed}\``);
        cli.out.success(`Data storage of profile \`${profile.name}\` backed up to \`${result.folder}\``);
      });

    return group;
  },
});
