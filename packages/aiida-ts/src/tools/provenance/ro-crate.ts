import { z } from 'zod';
import { LinkType } from '../../orm/links.js';
import type { Node } from '../../orm/nodes/node.js';
import { ProcessNode, WorkflowNode } from '../../orm/nodes/process/process.js';
import type { ProvenanceGraph, ProvenanceLink } from './collect.js';
import { attributesJson, baseValue, displayName, endTime } from './node-facts.js';

// --- the document (RO-Crate 1.1 metadata, flattened and compacted JSON-LD) -------------------------------------

/** A reference to another entity: `{"@id": "…"}`. */
export const CrateRef = z.strictObject({ '@id': z.string().min(1) });
export type CrateRef = z.infer<typeof CrateRef>;
/** One entity of the `@graph`: an `@id`, an `@type` and schema.org properties. */
export const CrateEntity = z
  .object({ '@id': z.string().min(1), '@type': z.union([z.string(), z.array(z.string()).min(1)]) })
  .catchall(z.unknown());
export type CrateEntity = z.infer<typeof CrateEntity>;
/** An `ro-crate-metadata.json` document. */
export const RoCrateMetadata = z.strictObject({
  '@context': z.array(z.string()),
  '@graph': z.array(CrateEntity),
});
export type RoCrateMetadata = z.infer<typeof RoCrateMetadata>;

/** The RO-Crate specification and the profiles an aiida-ts crate conforms to (versioned permalinks). */
export const CRATE_PROFILES = {
  roCrate: 'https://w3id.org/ro/crate/1.1',
  processRun: 'https://w3id.org/ro/wfrun/process/0.5',
  workflowRun: 'https://w3id.org/ro/wfrun/workflow/0.5',
  provenanceRun: 'https://w3id.org/ro/wfrun/provenance/0.5',
  workflowRoCrate: 'https://w3id.org/workflowhub/workflow-ro-crate/1.0',
} as const;
const PROFILE_NAMES: Readonly<Record<string, readonly [string, string]>> = {
  [CRATE_PROFILES.processRun]: ['Process Run Crate', '0.5'],
  [CRATE_PROFILES.workflowRun]: ['Workflow Run Crate', '0.5'],
  [CRATE_PROFILES.provenanceRun]: ['Provenance Run Crate', '0.5'],
  [CRATE_PROFILES.workflowRoCrate]: ['Workflow RO-Crate', '1.0'],
};
const CONTEXT = ['https://w3id.org/ro/crate/1.1/context', 'https://w3id.org/ro/terms/workflow-run/context'];

/** A file of the crate: where it goes (crate-relative, `/`-separated, not encoded) and whose repository it is in. */
export interface CrateFile {
  /** Path inside the crate folder. */
  readonly path: string;
  /** The `@id` of its File entity (the path, each segment percent-encoded). */
  readonly id: string;
  /** Either a node's repository file, or bytes the exporter writes (the workflow description). */
  readonly source: { readonly node: Node; readonly path: string } | { readonly content: Buffer };
}

/** A crate to write: its metadata and the files that go with it. */
export interface RoCratePlan {
  readonly metadata: RoCrateMetadata;
  readonly files: readonly CrateFile[];
}

/** Options of {@link planRoCrate}. */
export interface RoCrateOptions {
  /** The crate's license (an SPDX URL such as `https://spdx.org/licenses/CC-BY-4.0`); unset: marked unspecified. */
  readonly license?: string;
  /** The crate's publication date (default now). */
  readonly datePublished?: Date;
}

const ref = (id: string): CrateRef => ({ '@id': id });
const encodePath = (path: string): string => path.split('/').map(encodeURIComponent).join('/');
const processType = (node: ProcessNode): string => node.processType ?? `aiida:${node.constructor.name}`;
const actionId = (node: Node): string => `#process-${node.uuid}`;
const DATA_TYPES: Readonly<Record<string, string>> = {
  'data.core.int.Int.': 'Integer',
  'data.core.float.Float.': 'Float',
  'data.core.str.Str.': 'Text',
  'data.core.bool.Bool.': 'Boolean',
};
/** The `additionalType` of a parameter slot, from the entity that filled it (Workflow Run Crate's FormalParameter). */
function parameterType(node: Node | undefined, entity: CrateEntity | undefined): string {
  if (entity?.['@type'] === 'Dataset') return 'Dataset';
  if (node === undefined) return 'PropertyValue';
  if (node.nodeType.startsWith('data.core.code.')) return 'SoftwareApplication';
  return DATA_TYPES[node.nodeType] ?? 'PropertyValue';
}

/** The schema.org action status of a process: completed when it finished with exit status 0, failed otherwise. */
const status = (node: ProcessNode): string =>
  node.isFinishedOk ? 'http://schema.org/CompletedActionStatus' : 'http://schema.org/FailedActionStatus';
/** Why a process did not finish well: its exit message, else its exception, else its state. */
const failure = (node: ProcessNode, state: string): string =>
  [node.exitMessage, node.exception].find((text) => text !== null && text !== '') ?? `process state ${state}`;

/**
 * Plans a Workflow Run RO-Crate of a provenance graph (Provenance Run Crate 0.5, which includes Workflow Run Crate
 * 0.5, Process Run Crate 0.5 and Workflow RO-Crate 1.0; a calculation exported alone is a Process Run Crate):
 * - every process is a `CreateAction` (start/end time, `agent` its owner, `object` its inputs, `result` what it
 *   created or returned, `actionStatus` completed or failed), mentioned by the root dataset;
 * - its `instrument` is its process class: a `SoftwareApplication` for calculations, a `ComputationalWorkflow` for
 *   workflows, whose `hasPart` lists the classes of the processes it called. The root workflow is the crate's
 *   `mainEntity`, a file (`workflow/<label>.json`: what AiiDA recorded of it); nested workflows are contextual;
 * - data nodes with repository files are folders `nodes/<uuid>/` holding the files, code nodes
 *   `SoftwareApplication`s, other data nodes `PropertyValue`s (base types: the value; others: the attributes as JSON);
 *   the repository files of process nodes (a calculation job's submission script, …) are folders
 *   `processes/<uuid>/` `about` the action, as Workflow Run Crate recommends for engine traces;
 * - owners are `Person`s.
 */
export async function planRoCrate(
  graph: ProvenanceGraph,
  options: RoCrateOptions = {},
): Promise<RoCratePlan> {
  const entities = new Map<string, CrateEntity>();
  const put = (entity: CrateEntity): void => {
    entities.set(entity['@id'], entity);
  };
  const files: CrateFile[] = [];
  const rootParts: CrateRef[] = [];
  const root = graph.root;
  const rootIsWorkflow = root instanceof WorkflowNode;

  const personId = (node: Node): string | undefined => {
    const user = node.userId === null ? undefined : graph.users.get(node.userId);
    return user === undefined ? undefined : `#user-${encodeURIComponent(user.email)}`;
  };
  for (const user of graph.users.values()) {
    const name = `${user.firstName} ${user.lastName}`.trim();
    put({
      '@id': `#user-${encodeURIComponent(user.email)}`,
      '@type': 'Person',
      name: name === '' ? user.email : name,
      email: user.email,
      ...(user.institution === '' ? {} : { affiliation: user.institution }),
    });
  }

  /** The folder entity of a node's repository files, or undefined when it has none. */
  const folder = async (
    node: Node,
    base: string,
    extra: Record<string, unknown>,
  ): Promise<string | undefined> => {
    const paths = await node.base.repository.listFilePaths();
    if (paths.length === 0) return undefined;
    const dir = `${base}/${node.uuid}/`;
    const parts: CrateRef[] = [];
    for (const path of paths) {
      const id = encodePath(`${dir}${path}`);
      const size = await node.base.repository.getObjectSize(path);
      files.push({ path: `${dir}${path}`, id, source: { node, path } });
      const key = node.base.repository.getObject(path).key;
      // the repository keys objects by the sha256 of their content
      put({
        '@id': id,
        '@type': 'File',
        name: path,
        contentSize: String(size),
        ...(typeof key === 'string' && /^[0-9a-f]{64}$/.test(key) ? { sha256: key } : {}),
      });
      parts.push(ref(id));
    }
    put({ '@id': dir, '@type': 'Dataset', hasPart: parts, ...extra });
    rootParts.push(ref(dir));
    return dir;
  };

  // data nodes
  const dataIds = new Map<number, string>();
  for (const node of graph.nodes.values()) {
    if (node instanceof ProcessNode) continue;
    const author = personId(node);
    const common = {
      name: displayName(node),
      identifier: node.uuid,
      dateCreated: node.ctimeIso,
      description: `AiiDA ${node.constructor.name} (${node.nodeType})${node.description === '' ? '' : `: ${node.description}`}`,
      ...(author === undefined ? {} : { author: ref(author) }),
    };
    const isCode = node.nodeType.startsWith('data.core.code.');
    const dir = await folder(node, 'nodes', {
      ...common,
      ...(isCode ? { additionalType: 'SoftwareApplication' } : {}),
    });
    if (dir !== undefined) {
      dataIds.set(node.pk ?? -1, dir);
      continue;
    }
    const id = `#node-${node.uuid}`;
    dataIds.set(node.pk ?? -1, id);
    if (isCode) {
      const computer = node.computerId === null ? undefined : graph.computers.get(node.computerId);
      const executable = node.attributes.get('filepath_executable', undefined);
      put({
        '@id': id,
        '@type': 'SoftwareApplication',
        ...common,
        ...(typeof executable === 'string'
          ? { description: `${common.description} (runs ${executable})` }
          : {}),
        ...(computer === undefined ? {} : { runtimePlatform: `${computer.label} (${computer.hostname})` }),
      });
      continue;
    }
    const value = baseValue(node);
    put({
      '@id': id,
      '@type': 'PropertyValue',
      ...common,
      value: value ?? attributesJson(node),
    });
  }

  // process classes (tools and workflows) and the classes each workflow class called
  const toolIds = new Map<string, string>();
  const toolParts = new Map<string, Set<string>>();
  const mainType = processType(root);
  // a file name that is its own URI path: the label with anything but letters, digits, `.`, `_` and `-` replaced
  const mainFile = `workflow/${(root.processLabel ?? root.constructor.name).replace(/[^A-Za-z0-9._-]/g, '_')}.json`;
  const toolId = (node: ProcessNode): string => {
    const type = processType(node);
    let id = toolIds.get(type);
    if (id !== undefined) return id;
    id = rootIsWorkflow && type === mainType ? mainFile : `#class-${encodeURIComponent(type)}`;
    toolIds.set(type, id);
    if (id === mainFile) return id;
    const common = { name: node.processLabel ?? type, identifier: type, programmingLanguage: ref('#aiida') };
    put(
      node instanceof WorkflowNode
        ? { '@id': id, '@type': ['SoftwareSourceCode', 'ComputationalWorkflow'], ...common }
        : { '@id': id, '@type': 'SoftwareApplication', ...common },
    );
    return id;
  };

  // processes; the links indexed by their ends once, as a process looks only at its own
  const incoming = new Map<number, ProvenanceLink[]>();
  const outgoing = new Map<number, ProvenanceLink[]>();
  const index = (map: Map<number, ProvenanceLink[]>, pk: number, link: ProvenanceLink): void => {
    const list = map.get(pk);
    if (list === undefined) map.set(pk, [link]);
    else list.push(link);
  };
  for (const link of graph.links) {
    index(incoming, link.target, link);
    index(outgoing, link.source, link);
  }
  const actions: CrateRef[] = [];
  const controls: CrateRef[] = [];
  // the parameter slots of each process class (its link labels), and the data that filled them (Workflow Run Crate)
  const toolSlots = new Map<string, { input: Set<string>; output: Set<string> }>();
  const slot = (
    node: ProcessNode,
    tool: string,
    direction: 'input' | 'output',
    label: string,
    data: string,
    dataNode: Node | undefined,
  ): void => {
    const id = `#param-${[processType(node), direction, label].map(encodeURIComponent).join('/')}`;
    const slots = toolSlots.get(tool) ?? { input: new Set<string>(), output: new Set<string>() };
    slots[direction].add(id);
    toolSlots.set(tool, slots);
    const entity = entities.get(data);
    if (!entities.has(id)) {
      put({
        '@id': id,
        '@type': 'FormalParameter',
        name: label,
        additionalType: parameterType(dataNode, entity),
      });
    }
    if (entity === undefined) return;
    const examples = Array.isArray(entity['exampleOfWork']) ? (entity['exampleOfWork'] as CrateRef[]) : [];
    if (!examples.some((example) => example['@id'] === id)) entity['exampleOfWork'] = [...examples, ref(id)];
  };
  const toolSteps = new Map<string, Set<string>>();
  for (const node of graph.nodes.values()) {
    if (!(node instanceof ProcessNode)) continue;
    const id = actionId(node);
    const instrument = toolId(node);
    const inputs: CrateRef[] = [];
    const results: CrateRef[] = [];
    for (const link of [...(incoming.get(node.pk ?? -1) ?? []), ...(outgoing.get(node.pk ?? -1) ?? [])]) {
      if (
        link.target === node.pk &&
        (link.linkType === LinkType.INPUT_CALC || link.linkType === LinkType.INPUT_WORK)
      ) {
        const data = dataIds.get(link.source);
        if (data !== undefined) {
          inputs.push(ref(data));
          slot(node, instrument, 'input', link.label, data, graph.nodes.get(link.source));
        }
      } else if (
        link.source === node.pk &&
        (link.linkType === LinkType.CREATE || link.linkType === LinkType.RETURN)
      ) {
        const data = dataIds.get(link.target);
        if (data !== undefined && !results.some((result) => result['@id'] === data)) results.push(ref(data));
        if (data !== undefined)
          slot(node, instrument, 'output', link.label, data, graph.nodes.get(link.target));
      } else if (
        link.source === node.pk &&
        (link.linkType === LinkType.CALL_CALC || link.linkType === LinkType.CALL_WORK)
      ) {
        const callee = graph.nodes.get(link.target);
        if (callee instanceof ProcessNode) {
          const calleeTool = toolId(callee);
          const parts = toolParts.get(instrument) ?? new Set<string>();
          parts.add(calleeTool);
          toolParts.set(instrument, parts);
          // a step of the workflow class: what it calls under this link label (one tool per step)
          const step = `#step-${[processType(node), link.label, processType(callee)].map(encodeURIComponent).join('/')}`;
          const steps = toolSteps.get(instrument) ?? new Set<string>();
          steps.add(step);
          toolSteps.set(instrument, steps);
          put({ '@id': step, '@type': 'HowToStep', name: link.label, workExample: ref(calleeTool) });
          const control = `#control-${callee.uuid}`;
          put({
            '@id': control,
            '@type': 'ControlAction',
            name: `${link.label} of ${displayName(node)}`,
            instrument: ref(step),
            object: ref(actionId(callee)),
            actionStatus: ref(status(callee)),
          });
          controls.push(ref(control));
        }
      }
    }
    const agent = personId(node);
    const ok = node.isFinishedOk;
    const state = `${node.processState ?? 'unknown'}${node.exitStatus === null ? '' : ` [${node.exitStatus}]`}`;
    put({
      '@id': id,
      '@type': 'CreateAction',
      name: displayName(node),
      identifier: node.uuid,
      description: `AiiDA ${node.constructor.name}, process state ${state}`,
      startTime: node.ctimeIso,
      endTime: endTime(node),
      instrument: ref(instrument),
      ...(agent === undefined ? {} : { agent: ref(agent) }),
      object: inputs,
      result: results,
      actionStatus: ref(status(node)),
      ...(ok ? {} : { error: failure(node, state) }),
    });
    actions.push(ref(id));
    await folder(node, 'processes', { name: `Files of ${displayName(node)}`, about: ref(id) });
  }
  const parameters = (tool: string): { input?: CrateRef[]; output?: CrateRef[] } => {
    const slots = toolSlots.get(tool);
    if (slots === undefined) return {};
    return {
      ...(slots.input.size === 0 ? {} : { input: [...slots.input].sort().map(ref) }),
      ...(slots.output.size === 0 ? {} : { output: [...slots.output].sort().map(ref) }),
    };
  };
  for (const tool of toolSlots.keys()) {
    const entity = entities.get(tool);
    if (entity !== undefined) Object.assign(entity, parameters(tool));
  }
  const withSteps = (types: readonly string[], tool: string): { '@type': string[]; step?: CrateRef[] } => {
    const steps = toolSteps.get(tool);
    // Provenance Run Crate: a workflow that lists its steps is also a HowTo
    return steps === undefined
      ? { '@type': [...types] }
      : { '@type': [...types, 'HowTo'], step: [...steps].sort().map(ref) };
  };
  for (const [tool, parts] of toolParts) {
    const entity = entities.get(tool);
    if (entity === undefined) continue;
    entity['hasPart'] = [...parts].sort().map(ref);
    Object.assign(entity, withSteps(['SoftwareSourceCode', 'ComputationalWorkflow'], tool));
  }

  // the main workflow: a file holding what AiiDA recorded of the workflow class and its runs
  const conformsTo = rootIsWorkflow
    ? [
        CRATE_PROFILES.processRun,
        CRATE_PROFILES.workflowRun,
        CRATE_PROFILES.provenanceRun,
        CRATE_PROFILES.workflowRoCrate,
      ]
    : [CRATE_PROFILES.processRun];
  if (rootIsWorkflow) {
    const description = {
      process_type: mainType,
      process_label: root.processLabel,
      node_type: root.nodeType,
      inputs: graph.links
        .filter((link) => link.target === root.pk && link.linkType === LinkType.INPUT_WORK)
        .map((link) => link.label),
      outputs: graph.links
        .filter((link) => link.source === root.pk && link.linkType === LinkType.RETURN)
        .map((link) => link.label),
      calls: graph.links
        .filter(
          (link) =>
            link.source === root.pk &&
            (link.linkType === LinkType.CALL_CALC || link.linkType === LinkType.CALL_WORK),
        )
        .map((link) => {
          const callee = graph.nodes.get(link.target);
          return {
            link_label: link.label,
            process_type: callee instanceof ProcessNode ? processType(callee) : null,
          };
        }),
    };
    files.push({
      path: mainFile,
      id: mainFile,
      source: { content: Buffer.from(`${JSON.stringify(description, null, 2)}\n`) },
    });
    put({
      '@id': mainFile,
      ...withSteps(['File', 'SoftwareSourceCode', 'ComputationalWorkflow'], mainFile),
      name: root.processLabel ?? mainType,
      identifier: mainType,
      encodingFormat: 'application/json',
      description:
        'The workflow as AiiDA recorded it: its process type, the ports it was run with and what it called.',
      programmingLanguage: ref('#aiida'),
      hasPart: [...(toolParts.get(mainFile) ?? [])].sort().map(ref),
      ...parameters(mainFile),
    });
    rootParts.unshift(ref(mainFile));
    // the run of the engine itself: it ran the steps (the control actions) and so the workflow
    put({
      '@id': '#aiida-ts-engine',
      '@type': 'SoftwareApplication',
      name: 'aiida-ts',
      description: 'The workflow engine of aiida-ts, a TypeScript implementation of AiiDA.',
    });
    const organize = `#engine-run-${root.uuid}`;
    put({
      '@id': organize,
      '@type': 'OrganizeAction',
      name: `aiida-ts running ${displayName(root)}`,
      instrument: ref('#aiida-ts-engine'),
      object: controls,
      result: ref(actionId(root)),
      actionStatus: ref(status(root)),
    });
    actions.push(ref(organize));
  }
  put({
    '@id': '#aiida',
    '@type': 'ComputerLanguage',
    name: 'AiiDA',
    alternateName: 'aiida-ts',
    url: ref('https://www.aiida.net'),
  });
  for (const profile of conformsTo) {
    const [name, version] = PROFILE_NAMES[profile] ?? [profile, ''];
    put({ '@id': profile, '@type': 'CreativeWork', name, version });
  }
  const license = options.license ?? '#license-unspecified';
  if (options.license === undefined) {
    put({
      '@id': license,
      '@type': 'CreativeWork',
      name: 'License not specified',
      description: 'The exporter did not state a license; ask the owners of the data before reusing it.',
    });
  } else {
    put({ '@id': license, '@type': 'CreativeWork', name: license });
  }
  const rootEntity: CrateEntity = {
    '@id': './',
    '@type': 'Dataset',
    name: `Provenance of ${displayName(root)}`,
    description: `The provenance of AiiDA ${root.constructor.name} ${root.uuid}: its inputs, outputs, the processes it called and the creators of its data, exported by aiida-ts.`,
    datePublished: (options.datePublished ?? new Date()).toISOString(),
    license: ref(license),
    conformsTo: conformsTo.map(ref),
    hasPart: rootParts,
    mentions: actions,
    ...(rootIsWorkflow ? { mainEntity: ref(mainFile) } : {}),
  };
  const descriptor: CrateEntity = {
    '@id': 'ro-crate-metadata.json',
    '@type': 'CreativeWork',
    conformsTo: rootIsWorkflow
      ? [ref(CRATE_PROFILES.roCrate), ref(CRATE_PROFILES.workflowRoCrate)]
      : ref(CRATE_PROFILES.roCrate),
    about: ref('./'),
  };
  const metadata = RoCrateMetadata.parse({
    '@context': CONTEXT,
    '@graph': [descriptor, rootEntity, ...entities.values()],
  });
  return { metadata, files };
}
