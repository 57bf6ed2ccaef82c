import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { isAiidaError } from '../../errors.js';
import type { StructureData } from '../../orm/nodes/data/structure.js';
import type { Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';
import { resolveArgument } from '../utils/arguments.js';
import { loadDataArgument, loadDataArguments } from './data-argument.js';
import type { ParsedStructure } from './structure-io.js';

const ENTRY_POINT = 'core.structure';
export const EXPORT_FORMATS = ['cif', 'xsf', 'xyz'] as const;
export const VISUALIZATION_FORMATS = ['ase', 'jmol', 'vesta', 'vmd', 'xcrysden'] as const;
type ExportFormat = (typeof EXPORT_FORMATS)[number];
type VisualizationFormat = (typeof VISUALIZATION_FORMATS)[number];

async function structureClass() {
  const { StructureData: StructureClass } = await import('../../orm/nodes/data/structure.js');
  return StructureClass;
}

/** The structure in a file format, or a critical error naming why it cannot be written (alloys, vacancies). */
async function exportContent(cli: Cli, structure: StructureData, format: ExportFormat): Promise<string> {
  const io = await import('./structure-io.js');
  try {
    if (format === 'xyz') return io.structureToXyz(structure);
    if (format === 'xsf') return io.structureToXsf(structure);
    return io.structureToCif(structure);
  } catch (error) {
    if (isAiidaError(error)) return cli.out.critical(error.message);
    throw error;
  }
}

/** How each viewer is started on a file of the format it reads (aiida-core's `_show_*` plugins). */
const VIEWERS: Record<
  VisualizationFormat,
  { format: ExportFormat; args: (file: string) => string[]; exec: string }
> = {
  ase: { format: 'xyz', exec: 'ase', args: (file) => ['gui', file] },
  jmol: { format: 'cif', exec: 'jmol', args: (file) => [file] },
  vesta: { format: 'cif', exec: 'VESTA', args: (file) => [file] },
  vmd: { format: 'xsf', exec: 'vmd', args: (file) => [file] },
  xcrysden: { format: 'xsf', exec: 'xcrysden', args: (file) => ['--xsf', file] },
};

async function structureShow(cli: Cli, identifiers: string[], format: VisualizationFormat): Promise<void> {
  const structures = await loadDataArguments(cli, identifiers, await structureClass(), ENTRY_POINT);
  const viewer = VIEWERS[format];
  if (viewer.format !== 'cif' && structures.length > 1)
    return cli.out.critical(`Visualization of multiple objects with ${format} is not implemented`);
  const folder = mkdtempSync(join(tmpdir(), 'verdi-structure-'));
  try {
    const file = join(folder, `structure.${viewer.format}`);
    const parts: string[] = [];
    for (const structure of structures) parts.push(await exportContent(cli, structure, viewer.format));
    writeFileSync(file, parts.join('\n'));
    const result = spawnSync(viewer.exec, viewer.args(file), { stdio: 'inherit' });
    if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
      return cli.out.critical(
        `No executable '${viewer.exec}' found. Add to the path, or try with an absolute path.`,
      );
    if (result.error !== undefined || result.status !== 0)
      cli.out.error(`the call to ${viewer.exec} ended with an error.`);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

async function structureExport(
  cli: Cli,
  identifier: string,
  opts: { format: ExportFormat; output?: string; force?: boolean },
): Promise<void> {
  const structure = await loadDataArgument(cli, identifier, await structureClass(), ENTRY_POINT, 'DATUM');
  const content = await exportContent(cli, structure, opts.format);
  if (opts.output === undefined || opts.output === '') {
    cli.out.echo(content.replace(/\n$/, ''));
    return;
  }
  if (existsSync(opts.output) && opts.force !== true)
    return cli.out.critical(
      `OSError while exporting file:\nThe file ${opts.output} already exists, stopping.`,
    );
  try {
    writeFileSync(opts.output, content);
  } catch (error) {
    return cli.out.critical(`OSError while exporting file:\n${(error as Error).message}`);
  }
}

/** Options every importer shares: the label, a group to add to, and a dry run. */
interface ImportOptions {
  label?: string;
  group?: string;
  dryRun?: boolean;
}

function checkFile(filename: string): string {
  if (!existsSync(filename))
    throw new UsageError(`invalid value for FILENAME: Path '${filename}' does not exist.`);
  if (statSync(filename).isDirectory())
    throw new UsageError(`invalid value for FILENAME: File '${filename}' is a directory.`);
  return readFileSync(filename, 'utf8');
}

/** Builds, labels, stores (unless a dry run) and groups a parsed structure, as aiida-core's `_store_structure`. */
async function storeParsed(cli: Cli, parsed: ParsedStructure, opts: ImportOptions): Promise<void> {
  const storage = await cli.storage();
  const { loadGroup } = await import('../../orm/entities/group.js');
  const group =
    opts.group === undefined
      ? undefined
      : await resolveArgument('-G/--group', () => loadGroup(opts.group ?? '', { storage }));
  const StructureClass = await structureClass();
  const structure = new StructureClass({
    ...(parsed.cell === undefined ? {} : { cell: parsed.cell }),
    ...(parsed.pbc === undefined ? {} : { pbc: parsed.pbc }),
  });
  for (const atom of parsed.atoms) structure.appendAtom({ symbols: atom.symbol, position: atom.position });
  if (opts.label !== undefined && opts.label !== '') structure.label = opts.label;
  const formula = structure.getFormula();
  if (opts.dryRun === true) {
    cli.out.echo(`  Successfully imported structure ${formula} (not storing it, dry-run requested)`);
    return;
  }
  await structure.store();
  cli.out.echo(`  Successfully imported structure ${formula} (PK = ${String(structure.pk)})`);
  if (group !== undefined) await group.addNodes(structure);
}

function addImportOptions(command: Command): Command {
  return command
    .option('--label <label>', 'Set the structure node label (empty by default)')
    .option('-G, --group <group>', 'A single group identified by its ID, UUID or label.')
    .option('-n, --dry-run', 'Perform a dry run.');
}

function parseFloatOption(name: string) {
  return (value: string): number => {
    const number = Number(value);
    if (value.trim() === '' || !Number.isFinite(number))
      throw new UsageError(`invalid value for ${name}: '${value}' is not a valid float.`);
    return number;
  };
}

async function importXyz(
  cli: Cli,
  filename: string,
  opts: ImportOptions & { vacuumFactor: number; vacuumAddition: number; pbc: string[] },
): Promise<void> {
  if (opts.pbc.length !== 3)
    throw new UsageError('invalid value for --pbc: it takes 3 values (0 or 1 each).');
  const pbc = opts.pbc.map((value) => {
    if (value !== '0' && value !== '1')
      throw new UsageError('invalid value for pbc: values for pbc must be either 0 or 1');
    return value === '1';
  });
  const text = checkFile(filename);
  const io = await import('./structure-io.js');
  let parsed: ParsedStructure;
  try {
    parsed = io.adjustDefaultCell(io.parseXyz(text).atoms, {
      vacuumFactor: opts.vacuumFactor,
      vacuumAddition: opts.vacuumAddition,
      pbc: [pbc[0] === true, pbc[1] === true, pbc[2] === true],
    });
  } catch (error) {
    if (isAiidaError(error)) return cli.out.critical(error.message);
    throw error;
  }
  await storeParsed(cli, parsed, opts);
}

async function importCif(cli: Cli, filename: string, opts: ImportOptions): Promise<void> {
  const text = checkFile(filename);
  const io = await import('./structure-io.js');
  let parsed: ParsedStructure;
  try {
    parsed = io.parseCif(text);
  } catch (error) {
    if (isAiidaError(error)) return cli.out.critical(error.message);
    throw error;
  }
  await storeParsed(cli, parsed, opts);
}

/** `verdi data core.structure show|export|import`. */
export function structureCommand(cli: Cli): Command {
  const structure = new Command('core.structure').description(
    'Manipulate StructureData objects (crystal structures).',
  );
  structure
    .command('show')
    .description('Visualize StructureData objects (with an external viewer).')
    .argument('<data...>', 'Pks, uuids (or prefixes) or labels of the structures.')
    .addOption(
      new Option('-F, --format <format>', 'Format of the visualized output.')
        .choices(VISUALIZATION_FORMATS)
        .default('ase'),
    )
    .action((identifiers: string[], opts: { format: VisualizationFormat }) =>
      structureShow(cli, identifiers, opts.format),
    );
  structure
    .command('export')
    .description('Export StructureData object to file (or print it without -o).')
    .argument('<datum>', 'Pk, uuid (or prefix) or label of the structure.')
    .addOption(
      new Option('-F, --format <format>', 'Format of the exported file.')
        .choices(EXPORT_FORMATS)
        .default('xyz'),
    )
    .option('-o, --output <file>', 'Store the output directly in a file with the given name.')
    .option('-f, --force', 'Overwrite files without checking.')
    .action((identifier: string, opts: { format: ExportFormat; output?: string; force?: boolean }) =>
      structureExport(cli, identifier, opts),
    );
  const importGroup = structure
    .command('import')
    .description('Import a crystal structure from file into a StructureData object.');
  addImportOptions(
    importGroup
      .command('aiida-xyz')
      .description("Import structure in XYZ format using AiiDA's internal importer")
      .argument('<filename>', 'The XYZ file.')
      .option(
        '--vacuum-factor <factor>',
        'The factor by which the cell accomodating the structure should be increased (angstrom).',
        parseFloatOption('--vacuum-factor'),
        1.0,
      )
      .option(
        '--vacuum-addition <distance>',
        'The distance to add to the unit cell after vacuum factor was applied to expand in each dimension (angstrom).',
        parseFloatOption('--vacuum-addition'),
        10.0,
      )
      .option('--pbc <flags...>', 'Periodic boundary conditions for each lattice direction: 0 or 1 each.', [
        '0',
        '0',
        '0',
      ]),
  ).action(
    (
      filename: string,
      opts: ImportOptions & { vacuumFactor: number; vacuumAddition: number; pbc: string[] },
    ) => importXyz(cli, filename, opts),
  );
  addImportOptions(
    importGroup
      .command('cif')
      .description(
        'Import the first structure of a CIF file (symmetry operations applied), with the internal reader: aiida-core ' +
          'reads CIF through ase, which aiida-ts does not need.',
      )
      .argument('<filename>', 'The CIF file.'),
  ).action((filename: string, opts: ImportOptions) => importCif(cli, filename, opts));
  return structure;
}
