import { readdir, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { createRequire } from 'node:module';
import { ROCrate } from 'ro-crate';
import type { StorageBackend } from '../../src/storage/backend.js';
import type { CrateEntity, RoCrateMetadata } from '../../src/tools/provenance/ro-crate.js';

/** What the ro-crate package exports at run time but leaves out of its type declarations. */
interface RoCrateValidator {
  results: { status: string; message: string; entity?: string }[];
  rootDataEntity(): void;
  checkFiles(files: Record<string, { exists: boolean; isDir: boolean }>): void;
}
const roCrateRuntime = createRequire(import.meta.url)('ro-crate') as {
  Validator: new (crate: ROCrate) => RoCrateValidator;
  Defaults: { roCrateContextUrl: string };
};

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'provenance');
const readSchema = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as Record<string, unknown>;
// ajv-formats is CommonJS: seen from ESM its default export is the module, whose `default` is the plugin
const addFormats = addFormatsModule.default;

const formatErrors = (errors: ErrorObject[] | null | undefined): string[] =>
  (errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? error.keyword}`);

// The published PROV-JSON schema is draft-04; ajv 8 no longer ships that meta-schema, and the keywords the schema
// uses (type, properties, required, patternProperties, additionalProperties, anyOf, $ref, minItems, format) mean the
// same in draft-07, so it is compiled as is with the meta-schema check off.
const provAjv = new Ajv({ strict: false, validateSchema: false, allErrors: true });
addFormats(provAjv);
const provJsonValidator = provAjv.compile(readSchema('prov-json.schema.json'));

/** The errors of a document against the W3C PROV-JSON schema (empty when valid). */
export function provJsonSchemaErrors(document: unknown): string[] {
  return provJsonValidator(document) ? [] : formatErrors(provJsonValidator.errors);
}

const crateAjv = new Ajv({ strict: false, allErrors: true });
addFormats(crateAjv);
crateAjv.addSchema(readSchema('workflow-run-crate-0.5.schema.json'), 'wrroc');

/** The errors of a crate's metadata against the Workflow Run Crate 0.5 rules (empty when valid). */
export function crateSchemaErrors(
  metadata: unknown,
  profile: 'processRunCrate' | 'provenanceRunCrate',
): string[] {
  const validator = crateAjv.getSchema(`wrroc#/definitions/${profile}`);
  if (validator === undefined) throw new Error(`no ${profile} in the profile schema`);
  return validator(metadata) ? [] : formatErrors(validator.errors);
}

const types = (entity: CrateEntity): string[] =>
  typeof entity['@type'] === 'string' ? [entity['@type']] : entity['@type'];
const refIds = (value: unknown): string[] =>
  (Array.isArray(value) ? value : value === undefined ? [] : [value]).map((item) =>
    String((item as { '@id': unknown })['@id']),
  );

/** The entities of a crate by `@id`. */
export function crateEntities(metadata: RoCrateMetadata): Map<string, CrateEntity> {
  return new Map(metadata['@graph'].map((entity) => [entity['@id'], entity]));
}

/**
 * The profile rules that join entities, which a JSON Schema cannot state (Process/Workflow/Provenance Run Crate
 * 0.5, Workflow RO-Crate 1.0, RO-Crate 1.1): every reference resolves; each CreateAction's instrument is a tool
 * (SoftwareApplication, SoftwareSourceCode or ComputationalWorkflow) and is mentioned by the root; the mainEntity is a
 * File + ComputationalWorkflow; a workflow's parts are tools and its steps HowToSteps; a ControlAction runs a
 * HowToStep (instrument) through CreateActions (object), a HowToStep names its tool (workExample), an OrganizeAction
 * runs an engine over ControlActions to a CreateAction; tool parameters (input, output) and what data realizes
 * (exampleOfWork) are FormalParameters; every data entity (File, Dataset) is reached from the root by
 * hasPart. Returns the broken rules (empty when all hold).
 */
export function crateReferenceErrors(metadata: RoCrateMetadata): string[] {
  const entities = crateEntities(metadata);
  const errors: string[] = [];
  const root = entities.get('./');
  if (root === undefined) return ['no root data entity'];
  const mentioned = new Set(refIds(root['mentions']));
  for (const entity of entities.values()) {
    for (const [key, value] of Object.entries(entity)) {
      if (key.startsWith('@') || key === 'url' || key === 'conformsTo' || key === 'actionStatus') continue;
      for (const item of Array.isArray(value) ? value : [value]) {
        if (typeof item === 'object' && item !== null && '@id' in item) {
          const id = String(item['@id']);
          if (!entities.has(id)) errors.push(`${entity['@id']}.${key} -> ${id} is not in the crate`);
        }
      }
    }
    if (types(entity).includes('CreateAction')) {
      const [instrument] = refIds(entity['instrument']);
      const tool = instrument === undefined ? undefined : entities.get(instrument);
      if (
        tool === undefined ||
        !types(tool).some((type) =>
          ['SoftwareApplication', 'SoftwareSourceCode', 'ComputationalWorkflow'].includes(type),
        )
      )
        errors.push(`${entity['@id']}: instrument ${String(instrument)} is not a tool`);
      if (!mentioned.has(entity['@id'])) errors.push(`${entity['@id']} is not mentioned by the root`);
    }
  }
  const isTool = (id: string | undefined): boolean =>
    id !== undefined &&
    types(entities.get(id) ?? { '@id': '', '@type': [] }).some((type) =>
      ['SoftwareApplication', 'SoftwareSourceCode', 'ComputationalWorkflow'].includes(type),
    );
  const hasType = (id: string | undefined, type: string): boolean =>
    id !== undefined && types(entities.get(id) ?? { '@id': '', '@type': [] }).includes(type);
  for (const entity of entities.values()) {
    const kinds = types(entity);
    if (kinds.includes('ControlAction')) {
      if (!hasType(refIds(entity['instrument'])[0], 'HowToStep'))
        errors.push(`${entity['@id']}: instrument is not a HowToStep`);
      for (const id of refIds(entity['object']))
        if (!hasType(id, 'CreateAction')) errors.push(`${entity['@id']}: object ${id} is not a CreateAction`);
    }
    if (kinds.includes('HowToStep') && !isTool(refIds(entity['workExample'])[0]))
      errors.push(`${entity['@id']}: workExample is not a tool`);
    if (kinds.includes('OrganizeAction')) {
      if (!isTool(refIds(entity['instrument'])[0])) errors.push(`${entity['@id']}: instrument is not a tool`);
      for (const id of refIds(entity['object']))
        if (!hasType(id, 'ControlAction'))
          errors.push(`${entity['@id']}: object ${id} is not a ControlAction`);
      if (!hasType(refIds(entity['result'])[0], 'CreateAction'))
        errors.push(`${entity['@id']}: result is not a CreateAction`);
    }
    for (const id of [
      ...refIds(entity['exampleOfWork']),
      ...refIds(entity['input']),
      ...refIds(entity['output']),
    ])
      if (!hasType(id, 'FormalParameter'))
        errors.push(`${entity['@id']}: parameter ${id} is not a FormalParameter`);
    if (kinds.includes('ComputationalWorkflow')) {
      for (const id of refIds(entity['hasPart']))
        if (!isTool(id)) errors.push(`${entity['@id']}: part ${id} is no tool`);
      for (const id of refIds(entity['step']))
        if (!hasType(id, 'HowToStep')) errors.push(`${entity['@id']}: step ${id} is not a HowToStep`);
    }
  }
  const [main] = refIds(root['mainEntity']);
  if (main !== undefined) {
    const workflow = entities.get(main);
    if (
      workflow === undefined ||
      !['File', 'SoftwareSourceCode', 'ComputationalWorkflow'].every((type) => types(workflow).includes(type))
    )
      errors.push(`mainEntity ${main} is not a File, SoftwareSourceCode and ComputationalWorkflow`);
    if (workflow !== undefined && workflow['programmingLanguage'] === undefined)
      errors.push(`mainEntity ${main} has no programmingLanguage`);
  }
  // reachability of data entities through hasPart
  const reached = new Set<string>();
  const stack = ['./'];
  while (stack.length > 0) {
    const id = stack.pop() ?? '';
    if (reached.has(id)) continue;
    reached.add(id);
    stack.push(...refIds(entities.get(id)?.['hasPart']));
  }
  for (const entity of entities.values()) {
    const isData = types(entity).some((type) => type === 'File' || type === 'Dataset');
    if (isData && !entity['@id'].startsWith('#') && !reached.has(entity['@id']))
      errors.push(`data entity ${entity['@id']} is not reached from the root by hasPart`);
  }
  return errors;
}

/** Every path under a crate folder, as the ro-crate validator keys them (`@id`s: percent-encoded, folders with `/`). */
export async function crateFileReferences(
  folder: string,
): Promise<Record<string, { exists: boolean; isDir: boolean }>> {
  const references: Record<string, { exists: boolean; isDir: boolean }> = {};
  const walk = async (relative: string): Promise<void> => {
    for (const name of await readdir(path.join(folder, relative))) {
      const child = relative === '' ? name : `${relative}/${name}`;
      const isDir = (await stat(path.join(folder, child))).isDirectory();
      if (child === 'ro-crate-metadata.json') continue;
      const id = child.split('/').map(encodeURIComponent).join('/') + (isDir ? '/' : '');
      references[id] = { exists: true, isDir };
      if (isDir) await walk(child);
    }
  };
  await walk('');
  return references;
}

/**
 * The ro-crate package's validator (RO-Crate's root data entity rules, and that every File or Dataset entity is a path
 * of the crate and every path has an entity): the errors it finds. Its context check fetches the context from the
 * web, which this machine cannot reach, so it is left out; and as the package ships only the RO-Crate 1.2 context,
 * that one stands in for 1.1's (1.2 keeps every 1.1 term with the same IRI).
 */
export function roCrateJsErrors(
  metadata: RoCrateMetadata,
  files?: Record<string, { exists: boolean; isDir: boolean }>,
): string[] {
  const crate = new ROCrate(structuredClone(metadata), { array: true, link: true });
  const current = new ROCrate().__contextCache[roCrateRuntime.Defaults.roCrateContextUrl];
  if (current === undefined) throw new Error('the ro-crate package ships no context');
  crate.__contextCache['https://w3id.org/ro/crate/1.1/context'] = current;
  const validator = new roCrateRuntime.Validator(crate);
  validator.rootDataEntity();
  if (files !== undefined) validator.checkFiles(files);
  return validator.results
    .filter((result) => result.status === 'error')
    .map((result) => `${result.entity ?? ''} ${result.message}`);
}

/** Every link touching a process of the tree below `root` (pks), as `source type label target` strings. */
export async function processTreeLinks(
  storage: StorageBackend,
  processPks: readonly number[],
): Promise<string[]> {
  const rows = await storage
    .executor()
    .selectFrom('db_dblink')
    .select(['input_id', 'output_id', 'type', 'label'])
    .where((eb) => eb.or([eb('input_id', 'in', [...processPks]), eb('output_id', 'in', [...processPks])]))
    .execute();
  return rows
    .filter((row) => !(row.type.startsWith('call_') && !processPks.includes(row.input_id)))
    .map((row) => `${row.input_id} ${row.type} ${row.label} ${row.output_id}`)
    .sort();
}
