import { CorruptStorageError, StorageMigrationError } from '../../errors.js';
import { FINAL_LEGACY_VERSION } from './format.js';

/**
 * The migrations of the legacy JSON archive formats (`0.4` … `0.13`): each rewrites the parsed `metadata.json` and
 * `data.json` in place, as aiida-core's `aiida.storage.sqlite_zip.migrations.legacy` does. Numbers in `data` are
 * lossless-json numbers, so a `2.0` stays `2.0` all the way to the SQLite database.
 */

/** The JSON documents of a legacy archive, as parsed (objects with string keys). */
export type LegacyJson = Record<string, unknown>;

type Dict = Record<string, unknown>;
const isDict = (value: unknown): value is Dict =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const dict = (value: unknown): Dict => (isDict(value) ? value : {});

/** Appends `Converted from version A to B with <writer>` to `conversion_info` and sets the version. */
export function updateMetadataVersion(metadata: LegacyJson, version: string, writer: string): void {
  const previous = String(metadata['export_version']);
  const info = Array.isArray(metadata['conversion_info']) ? (metadata['conversion_info'] as unknown[]) : [];
  info.push(`Converted from version ${previous} to ${version} with ${writer}`);
  metadata['aiida_version'] = writer.replace(/^aiida-ts v/, '');
  metadata['export_version'] = version;
  metadata['conversion_info'] = info;
}

function verifyVersion(metadata: LegacyJson, version: string): void {
  if (!('export_version' in metadata))
    throw new StorageMigrationError("metadata is missing the 'export_version' key");
  if (metadata['export_version'] !== version)
    throw new StorageMigrationError(
      `expected archive file with version ${version} but found version ${String(metadata['export_version'])}`,
    );
}

function removeFields(
  metadata: LegacyJson,
  data: LegacyJson,
  entity: string,
  fields: readonly string[],
): void {
  for (const content of Object.values(dict(dict(data['export_data'])[entity]))) {
    for (const field of fields) delete dict(content)[field];
  }
  const info = dict(dict(metadata['all_fields_info'])[entity]);
  for (const field of fields) delete info[field];
}

/** Reattaches `+00:00` to the datetimes the old EAV serialisation stripped (conversion tree `date` leaves). */
function reattachTimezone(value: unknown, conversion: unknown): unknown {
  if (isDict(value)) {
    const out: Dict = {};
    for (const [key, child] of Object.entries(value))
      out[key] = reattachTimezone(child, isDict(conversion) ? conversion[key] : undefined);
    return out;
  }
  if (Array.isArray(value)) {
    return value.map((child, index) =>
      reattachTimezone(child, Array.isArray(conversion) ? conversion[index] : undefined),
    );
  }
  if (conversion === undefined || conversion === null) return value;
  if (conversion === 'date') return `${String(value)}+00:00`;
  throw new StorageMigrationError(`Unknown convert_type '${JSON.stringify(conversion)}'`);
}

/** Legacy `JobCalculation` states mapped to process attributes (aiida's `STATE_MAPPING`). */
const JOB_STATES: Readonly<
  Record<string, { processState: string; exitStatus: number | null; status: string | null }>
> = {
  NEW: { processState: 'killed', exitStatus: null, status: 'NEW' },
  TOSUBMIT: { processState: 'killed', exitStatus: null, status: 'TOSUBMIT' },
  SUBMITTING: { processState: 'killed', exitStatus: null, status: 'SUBMITTING' },
  WITHSCHEDULER: { processState: 'killed', exitStatus: null, status: 'WITHSCHEDULER' },
  COMPUTED: { processState: 'killed', exitStatus: null, status: 'COMPUTED' },
  RETRIEVING: { processState: 'killed', exitStatus: null, status: 'RETRIEVING' },
  PARSING: { processState: 'killed', exitStatus: null, status: 'PARSING' },
  SUBMISSIONFAILED: { processState: 'excepted', exitStatus: null, status: 'SUBMISSIONFAILED' },
  RETRIEVALFAILED: { processState: 'excepted', exitStatus: null, status: 'RETRIEVALFAILED' },
  PARSINGFAILED: { processState: 'excepted', exitStatus: null, status: 'PARSINGFAILED' },
  FAILED: { processState: 'finished', exitStatus: 2, status: null },
  FINISHED: { processState: 'finished', exitStatus: 0, status: null },
};

function v4ToV5(metadata: LegacyJson, data: LegacyJson): void {
  removeFields(metadata, data, 'Node', ['nodeversion', 'public']);
  removeFields(metadata, data, 'Computer', ['transport_params']);
}

function v5ToV6(_metadata: LegacyJson, data: LegacyJson): void {
  data['node_attributes'] = reattachTimezone(data['node_attributes'], data['node_attributes_conversion']);
  data['node_extras'] = reattachTimezone(data['node_extras'], data['node_extras_conversion']);
  delete data['node_attributes_conversion'];
  delete data['node_extras_conversion'];
  const nodes = dict(dict(data['export_data'])['Node']);
  const calcJobs = new Set(
    Object.entries(nodes)
      .filter(([, values]) => dict(values)['node_type'] === 'process.calculation.calcjob.CalcJobNode.')
      .map(([pk]) => pk),
  );
  for (const [pk, values] of Object.entries(dict(data['node_attributes']))) {
    const attributes = dict(values);
    const state = attributes['state'];
    if (!calcJobs.has(pk) || typeof state !== 'string' || !(state in JOB_STATES)) continue;
    delete attributes['state'];
    const mapped = JOB_STATES[state]!;
    if (mapped.exitStatus !== null) attributes['exit_status'] = mapped.exitStatus;
    attributes['process_state'] = mapped.processState;
    if (mapped.status !== null)
      attributes['process_status'] = `Legacy \`JobCalculation\` with state \`${mapped.status}\``;
    attributes['process_label'] = 'Legacy JobCalculation';
  }
}

function v6ToV7(metadata: LegacyJson, data: LegacyJson): void {
  const nodes = dict(dict(data['export_data'])['Node']);
  const illegal: string[] = [];
  for (const [pk, content] of Object.entries(dict(data['node_attributes']))) {
    const node = nodes[pk];
    if (!isDict(node))
      throw new CorruptStorageError(`Your export archive is corrupt! Org. exception: '${pk}'`);
    if (!String(node['node_type']).startsWith('process.')) continue;
    const attributes = dict(content);
    const state = attributes['process_state'];
    if (state === 'created' || state === 'running' || state === 'waiting') {
      illegal.push(`${typeof node['uuid'] === 'string' ? node['uuid'] : pk} (${state})`);
      continue;
    }
    attributes['sealed'] = true;
    for (const key of ['_sealed', '_finished', '_failed', '_aborted', '_do_abort']) delete attributes[key];
  }
  if (illegal.length > 0)
    throw new CorruptStorageError(
      `Your export archive is corrupt! ProcessNodes with active process states that should never have been ` +
        `allowed to be exported: ${illegal.join(', ')}`,
    );
  for (const entity of ['Attribute', 'Link']) {
    delete dict(metadata['unique_identifiers'])[entity];
    delete dict(metadata['all_fields_info'])[entity];
  }
}

function v7ToV8(_metadata: LegacyJson, data: LegacyJson): void {
  for (const link of Array.isArray(data['links_uuid']) ? data['links_uuid'] : []) {
    if (isDict(link) && link['label'] === '_return') link['label'] = 'result';
  }
}

const GROUP_TYPES: Readonly<Record<string, string>> = {
  user: 'core',
  'data.upf': 'core.upf',
  'auto.import': 'core.import',
  'auto.run': 'core.auto',
};

function v8ToV9(_metadata: LegacyJson, data: LegacyJson): void {
  for (const group of Object.values(dict(dict(data['export_data'])['Group']))) {
    const attributes = dict(group);
    const mapped = GROUP_TYPES[String(attributes['type_string'])];
    if (mapped !== undefined) attributes['type_string'] = mapped;
  }
}

function v9ToV10(metadata: LegacyJson): void {
  const info = dict(metadata['all_fields_info']);
  dict(info['Node'])['attributes'] = { convert_type: 'jsonb' };
  dict(info['Node'])['extras'] = { convert_type: 'jsonb' };
  dict(info['Group'])['extras'] = { convert_type: 'jsonb' };
}

function v10ToV11(metadata: LegacyJson, data: LegacyJson): void {
  for (const computer of Object.values(dict(dict(data['export_data'])['Computer']))) {
    const attributes = dict(computer);
    attributes['label'] = attributes['name'];
    delete attributes['name'];
  }
  const fields = dict(dict(metadata['all_fields_info'])['Computer']);
  if ('name' in fields) {
    fields['label'] = fields['name'];
    delete fields['name'];
  }
}

const CORE_DATA_TYPES = [
  'array.ArrayData',
  'array.bands.BandsData',
  'array.kpoints.KpointsData',
  'array.projection.ProjectionData',
  'array.trajectory.TrajectoryData',
  'array.xy.XyData',
  'base.BaseData',
  'bool.Bool',
  'cif.CifData',
  'code.Code',
  'dict.Dict',
  'float.Float',
  'folder.FolderData',
  'int.Int',
  'list.List',
  'numeric.NumericData',
  'orbital.OrbitalData',
  'remote.RemoteData',
  'remote.stash.RemoteStashData',
  'remote.stash.folder.RemoteStashFolderData',
  'singlefile.SinglefileData',
  'str.Str',
  'structure.StructureData',
  'upf.UpfData',
];
const DATA_TYPES: ReadonlyMap<string, string> = new Map(
  CORE_DATA_TYPES.map((name) => [`data.${name}.`, `data.core.${name}.`]),
);
const SCHEDULERS: ReadonlyMap<string, string> = new Map(
  ['direct', 'lsf', 'pbspro', 'sge', 'slurm', 'torque'].map((name) => [name, `core.${name}`]),
);
const PROCESS_TYPES: ReadonlyMap<string, string> = new Map([
  ['aiida.calculations:arithmetic.add', 'aiida.calculations:core.arithmetic.add'],
  ['aiida.calculations:templatereplacer', 'aiida.calculations:core.templatereplacer'],
  ['aiida.workflows:arithmetic.add_multiply', 'aiida.workflows:core.arithmetic.add_multiply'],
  ['aiida.workflows:arithmetic.multiply_add', 'aiida.workflows:core.arithmetic.multiply_add'],
]);
const PARSERS: ReadonlyMap<string, string> = new Map([
  ['arithmetic.add', 'core.arithmetic.add'],
  ['templatereplacer.doubler', 'core.templatereplacer.doubler'],
]);
const TRANSPORTS: ReadonlyMap<string, string> = new Map([
  ['local', 'core.local'],
  ['ssh', 'core.ssh'],
]);

function v11ToV12(_metadata: LegacyJson, data: LegacyJson): void {
  const exportData = dict(data['export_data']);
  for (const node of Object.values(dict(exportData['Node']))) {
    const values = dict(node);
    const nodeType = values['node_type'];
    if (typeof nodeType === 'string' && DATA_TYPES.has(nodeType))
      values['node_type'] = DATA_TYPES.get(nodeType);
    const processType = values['process_type'];
    if (typeof processType === 'string' && PROCESS_TYPES.has(processType))
      values['process_type'] = PROCESS_TYPES.get(processType);
  }
  // aiida-core looks for parser names under `export_data.node_attributes`, where no archive has them, so this
  // finds nothing in practice; kept to do exactly what aiida-core does
  for (const attributes of Object.values(dict(exportData['node_attributes']))) {
    const values = dict(attributes);
    const parser = values['parser_name'];
    if (typeof parser === 'string' && PARSERS.has(parser)) values['parser_name'] = PARSERS.get(parser);
  }
  for (const computer of Object.values(dict(exportData['Computer']))) {
    const values = dict(computer);
    const scheduler = values['scheduler_type'];
    if (typeof scheduler === 'string' && SCHEDULERS.has(scheduler))
      values['scheduler_type'] = SCHEDULERS.get(scheduler);
  }
}

function v12ToV13(_metadata: LegacyJson, data: LegacyJson): void {
  for (const computer of Object.values(dict(dict(data['export_data'])['Computer']))) {
    const values = dict(computer);
    const transport = values['transport_type'];
    if (typeof transport === 'string' && TRANSPORTS.has(transport))
      values['transport_type'] = TRANSPORTS.get(transport);
  }
}

/** Each legacy version, the version it migrates to, and how. */
export const LEGACY_MIGRATIONS: ReadonlyMap<
  string,
  readonly [string, (metadata: LegacyJson, data: LegacyJson) => void]
> = new Map([
  ['0.4', ['0.5', v4ToV5]],
  ['0.5', ['0.6', v5ToV6]],
  ['0.6', ['0.7', v6ToV7]],
  ['0.7', ['0.8', v7ToV8]],
  ['0.8', ['0.9', v8ToV9]],
  ['0.9', ['0.10', (metadata) => v9ToV10(metadata)]],
  ['0.10', ['0.11', v10ToV11]],
  ['0.11', ['0.12', v11ToV12]],
  ['0.12', ['0.13', v12ToV13]],
]);

/**
 * Runs the legacy migrations from `current` up to `target` (at most {@link FINAL_LEGACY_VERSION}) on the parsed
 * documents, in place; resolves to the version reached. `onReport` gets aiida-core's report lines.
 */
export function performLegacyMigrations(
  current: string,
  target: string,
  metadata: LegacyJson,
  data: LegacyJson,
  writer: string,
  onReport: (message: string) => void,
  onStep?: (from: string, to: string, index: number, total: number) => void,
): string {
  const pathway: string[] = [];
  for (let version = current; version !== target;) {
    const step = LEGACY_MIGRATIONS.get(version);
    if (step === undefined)
      throw new StorageMigrationError(`No migration pathway available for '${current}' to '${target}'`);
    pathway.push(version);
    version = step[0];
  }
  if (pathway.length === 0) {
    onReport('No migration required');
    return target;
  }
  onReport(`Legacy migration pathway: ${[...pathway, target].join(' -> ')}`);
  pathway.forEach((from, index) => {
    const [to, migrate] = LEGACY_MIGRATIONS.get(from)!;
    onStep?.(from, to, index, pathway.length);
    verifyVersion(metadata, from);
    updateMetadataVersion(metadata, to, writer);
    migrate(metadata, data);
  });
  return target === FINAL_LEGACY_VERSION || LEGACY_MIGRATIONS.has(target) ? target : FINAL_LEGACY_VERSION;
}
