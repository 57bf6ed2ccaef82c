import { Command, Option } from 'commander';
import type { Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';
import { resolveArgument } from '../utils/arguments.js';

const FORMATS = ['prov-json', 'ro-crate'] as const;

/**
 * `verdi node export-provenance PK --format prov-json|ro-crate -O PATH`: the provenance of a process in a standard
 * form, W3C PROV-JSON (a file) or a Workflow Run RO-Crate (a folder, or a zip when PATH ends in `.zip`).
 */
export function nodeExportProvenanceCommand(cli: Cli): Command {
  return new Command('export-provenance')
    .description(
      'Export the provenance of a process (its inputs, outputs, called processes and the creators of its data) as ' +
        'W3C PROV-JSON or as a Workflow Run RO-Crate.',
    )
    .argument('<process>', 'Pk, uuid (or prefix) or label of a terminated process.')
    .addOption(
      new Option('-F, --format <format>', 'prov-json: a PROV-JSON file; ro-crate: a crate folder, or a .zip.')
        .choices(FORMATS)
        .default('prov-json'),
    )
    .requiredOption('-O, --output <path>', 'The file (prov-json), folder or .zip file (ro-crate) to write.')
    .option(
      '--license <url>',
      'The license of the crate (ro-crate), e.g. https://spdx.org/licenses/CC-BY-4.0.',
    )
    .option('--json', 'Print what was written as JSON.')
    .action(
      async (
        identifier: string,
        opts: { format: (typeof FORMATS)[number]; output: string; license?: string; json?: boolean },
      ) => {
        cli.out.json = opts.json === true;
        const storage = await cli.storage();
        await import('../../orm.js');
        const { loadNode } = await import('../../orm/loaders.js');
        const { ProcessNode } = await import('../../orm/nodes/process/process.js');
        const node = await resolveArgument('PROCESS', () => loadNode(identifier, { storage }));
        if (!(node instanceof ProcessNode)) {
          throw new UsageError(
            `invalid value for PROCESS: node<${String(node.pk)}> is a ${node.constructor.name}, not a process`,
          );
        }
        const { exportProvJson, exportRoCrate } = await import('../../tools/provenance/index.js');
        const { readdir, stat, writeFile } = await import('node:fs/promises');
        // an existing output is never overwritten (an empty folder may receive a crate)
        const existing = await stat(opts.output).catch(() => undefined);
        const emptyFolder =
          existing?.isDirectory() === true &&
          opts.format === 'ro-crate' &&
          !opts.output.toLowerCase().endsWith('.zip') &&
          (await readdir(opts.output)).length === 0;
        if (existing !== undefined && !emptyFolder)
          throw new UsageError(`invalid value for --output: ${opts.output} already exists`);
        if (opts.format === 'prov-json') {
          const document = await exportProvJson(node, { storage });
          await writeFile(opts.output, `${JSON.stringify(document, null, 2)}\n`, { flag: 'wx' });
          const counts = {
            entities: Object.keys(document.entity ?? {}).length,
            activities: Object.keys(document.activity ?? {}).length,
            agents: Object.keys(document.agent ?? {}).length,
          };
          if (opts.json === true) {
            cli.out.printJson({ format: opts.format, output: opts.output, ...counts });
            return;
          }
          cli.out.success(
            `PROV-JSON of ${node.constructor.name}<${String(node.pk)}> written to \`${opts.output}\` (${counts.entities} entities, ${counts.activities} activities, ${counts.agents} agents)`,
          );
          return;
        }
        const result = await exportRoCrate(node, {
          storage,
          output: opts.output,
          ...(opts.license === undefined ? {} : { license: opts.license }),
        });
        if (opts.json === true) {
          cli.out.printJson({
            format: opts.format,
            output: result.output,
            container: result.format,
            entities: result.metadata['@graph'].length,
            files: result.files,
          });
          return;
        }
        cli.out.success(
          `RO-Crate of ${node.constructor.name}<${String(node.pk)}> written to \`${result.output}\` (${result.format}, ${result.files.length} files)`,
        );
      },
    );
}
