import { Command } from 'commander';
import type { StorageIntegrityReport } from '../../storage/integrity.js';
import type { Cli } from '../cli.js';
import { CliExit, ExitCode } from '../exit-codes.js';

/**
 * Prints the problems of an integrity report (errors as `Error:`, warnings as `Warning:`), most serious first.
 * Resolves to whether there was an error.
 */
export function printIntegrityProblems(cli: Cli, report: StorageIntegrityReport): boolean {
  const errors = report.problems.filter((problem) => problem.severity === 'error');
  for (const problem of errors) cli.out.error(problem.message);
  for (const problem of report.problems) if (problem.severity === 'warning') cli.out.warning(problem.message);
  return errors.length > 0;
}

/**
 * `verdi storage integrity [--no-hashes] [--json]`: checks the profile's storage (see `StorageBackend.checkIntegrity`)
 * and exits with 1 when data is missing or corrupt, 0 otherwise (warnings such as unreferenced objects do not fail
 * it). Registered by `cmd-storage.ts`.
 */
export function storageIntegrityCommand(cli: Cli): Command {
  return new Command('integrity')
    .description(
      'Check the storage: the hash of every object, objects nodes refer to but the repository lacks, objects no node ' +
        'refers to, the pack index against the pack files, links and other rows naming missing nodes, duplicate uuids.',
    )
    .option('--no-hashes', 'Check the structure only; do not read every object (much faster).')
    .option(
      '--json',
      'Print the report as JSON: {ok, hashes, checked, problems: [{kind, severity, message, …}]}.',
    )
    .action(async (opts: { hashes: boolean; json?: boolean }) => {
      cli.out.json = opts.json === true;
      const storage = await cli.storage();
      const report = await storage.checkIntegrity({ hashes: opts.hashes });
      if (opts.json === true) {
        cli.out.printJson(report);
        if (!report.ok) throw new CliExit(ExitCode.CRITICAL);
        return;
      }
      const { checked } = report;
      cli.out.report(
        `checked ${checked.nodes} nodes (${checked.nodesWithFiles} with files, referring to ${checked.referencedObjects} objects) ` +
          `and ${checked.objects.loose} loose and ${checked.objects.packed} packed objects` +
          (report.hashes ? ` (${checked.objects.hashed} copies hashed)` : ' (structure only, no hashes)'),
      );
      const failed = printIntegrityProblems(cli, report);
      if (failed) {
        cli.out.critical(
          `the storage has ${report.problems.filter((problem) => problem.severity === 'error').length} integrity problem(s): ` +
            'restore it from a backup (`verdi storage backup`) or remove the affected nodes',
        );
      }
      cli.out.success(report.problems.length === 0 ? 'no problems found.' : 'no data is missing or corrupt.');
    });
}
