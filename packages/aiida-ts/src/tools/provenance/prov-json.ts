import { z } from 'zod';
import type { Computer } from '../../orm/entities/computer.js';
import type { User } from '../../orm/entities/user.js';
import { LinkType } from '../../orm/links.js';
import type { Node } from '../../orm/nodes/node.js';
import { ProcessNode } from '../../orm/nodes/process/process.js';
import type { StorageOption } from '../../storage/context.js';
import { collectProvenance, type ProvenanceGraph } from './collect.js';
import { attributesJson, baseValue, displayName, endTime, isCalcJob } from './node-facts.js';

// --- the document (W3C PROV-JSON Member Submission, 24 April 2013) ----------------------------------------------

/** A typed literal: `{"$": "aiida:Int", "type": "prov:QUALIFIED_NAME"}`. */
export const ProvTypedLiteral = z.strictObject({
  $: z.string(),
  type: z.string().optional(),
  lang: z.string().optional(),
});
const ProvLiteral = z.union([z.string(), z.number(), z.boolean(), ProvTypedLiteral]);
/** The value of an attribute: a literal or a non-empty list of literals. */
export const ProvAttributeValue = z.union([ProvLiteral, z.array(ProvLiteral).min(1)]);
/** An entity, activity, agent or relation record: attribute name to value. */
export const ProvRecord = z.record(z.string(), ProvAttributeValue);
const records = z.record(z.string(), ProvRecord).optional();

/** A PROV-JSON document (the relations aiida-ts writes, plus the others the submission defines). */
export const ProvJsonDocument = z.strictObject({
  prefix: z.record(z.string().regex(/^[a-zA-Z0-9_-]+$/), z.string()),
  entity: records,
  activity: records,
  agent: records,
  wasGeneratedBy: records,
  used: records,
  wasInformedBy: records,
  wasStartedBy: records,
  wasEndedBy: records,
  wasInvalidatedBy: records,
  wasDerivedFrom: records,
  wasAttributedTo: records,
  wasAssociatedWith: records,
  actedOnBehalfOf: records,
  wasInfluencedBy: records,
  specializationOf: records,
  alternateOf: records,
  hadMember: records,
});
export type ProvJsonDocument = z.infer<typeof ProvJsonDocument>;
export type ProvRecord = z.infer<typeof ProvRecord>;
export type ProvAttributeValue = z.infer<typeof ProvAttributeValue>;

/**
 * The namespaces of an aiida-ts PROV-JSON document. Nodes and computers are named by their UUIDs (`urn:uuid:`), users
 * by their email (`urn:aiida:user:`), process classes (the plans) by their process type; AiiDA's own terms (node classes, link
 * types, pks) live in the `aiida` namespace.
 */
export const PROV_PREFIXES = {
  prov: 'http://www.w3.org/ns/prov#',
  xsd: 'http://www.w3.org/2001/XMLSchema#',
  aiida: 'urn:aiida:terms:',
  uuid: 'urn:uuid:',
  user: 'urn:aiida:user:',
  plan: 'urn:aiida:process-type:',
} as const;

// --- mapping ----------------------------------------------------------------------------------------------------

type ProvTypedLiteral = z.infer<typeof ProvTypedLiteral>;
const qualifiedName = (name: string): ProvTypedLiteral => ({ $: name, type: 'prov:QUALIFIED_NAME' });
const dateTime = (iso: string): ProvTypedLiteral => ({ $: iso, type: 'xsd:dateTime' });

/** The PROV identifier of a node (`uuid:…`). */
export function provNodeId(node: Node): string {
  return `uuid:${node.uuid}`;
}
/** The PROV identifier of a user (`user:<email>`). */
export function provUserId(user: User): string {
  return `user:${encodeURIComponent(user.email).replaceAll('%40', '@')}`;
}
function provComputerId(computer: Computer): string {
  return `uuid:${computer.uuid}`;
}
function provPlanId(processType: string): string {
  return `plan:${encodeURIComponent(processType)}`;
}

function common(node: Node): ProvRecord {
  const record: ProvRecord = {
    'prov:label': displayName(node),
    'aiida:uuid': node.uuid,
    'aiida:pk': node.pk ?? -1,
    'aiida:node_type': node.nodeType,
    'aiida:ctime': dateTime(node.ctimeIso),
  };
  if (node.mtimeIso !== null) record['aiida:mtime'] = dateTime(node.mtimeIso);
  if (node.label !== '') record['aiida:label'] = node.label;
  if (node.description !== '') record['aiida:description'] = node.description;
  return record;
}

async function entityRecord(node: Node): Promise<ProvRecord> {
  const record: ProvRecord = {
    ...common(node),
    'prov:type': qualifiedName(`aiida:${node.constructor.name}`),
    'aiida:attributes': attributesJson(node),
  };
  const value = baseValue(node);
  if (value !== undefined) record['prov:value'] = value;
  const files = await node.base.repository.listFilePaths();
  if (files.length > 0) record['aiida:repository_files'] = files;
  return record;
}

async function activityRecord(node: ProcessNode): Promise<ProvRecord> {
  const record: ProvRecord = {
    ...common(node),
    'prov:type': qualifiedName(`aiida:${node.constructor.name}`),
    'prov:startTime': node.ctimeIso,
    'prov:endTime': endTime(node),
  };
  if (node.processType !== null) record['aiida:process_type'] = node.processType;
  if (node.processLabel !== null) record['aiida:process_label'] = node.processLabel;
  if (node.processState !== null) record['aiida:process_state'] = node.processState;
  if (node.exitStatus !== null) record['aiida:exit_status'] = node.exitStatus;
  if (node.exitMessage !== null && node.exitMessage !== '') record['aiida:exit_message'] = node.exitMessage;
  // a job's submission script, a process function's source, …
  const files = await node.base.repository.listFilePaths();
  if (files.length > 0) record['aiida:repository_files'] = files;
  return record;
}

function userRecord(user: User): ProvRecord {
  const name = `${user.firstName} ${user.lastName}`.trim();
  const record: ProvRecord = {
    'prov:type': qualifiedName('prov:Person'),
    'prov:label': name === '' ? user.email : name,
    'aiida:email': user.email,
  };
  if (user.institution !== '') record['aiida:institution'] = user.institution;
  return record;
}

function computerRecord(computer: Computer): ProvRecord {
  return {
    'prov:type': [qualifiedName('prov:SoftwareAgent'), qualifiedName('aiida:Computer')],
    'prov:label': computer.label,
    'aiida:uuid': computer.uuid,
    'aiida:hostname': computer.hostname,
    'aiida:transport_type': computer.transportType,
    'aiida:scheduler_type': computer.schedulerType,
  };
}

/**
 * The provenance graph as a W3C PROV-JSON document. The mapping:
 * - data nodes are `entity` records, process nodes `activity` records (`prov:startTime`/`prov:endTime`, PROV-O's
 *   `startedAtTime`/`endedAtTime`, from the node's ctime and its mtime once sealed), users `agent`s of type
 *   `prov:Person`, computers `agent`s of type `prov:SoftwareAgent`;
 * - `input_calc`/`input_work` links are `used` (the link label as `prov:role`), `create`/`return` links are
 *   `wasGeneratedBy` (`prov:time` of a creation is the data node's ctime), `call_calc`/`call_work` links are both
 *   `wasInformedBy` and `wasStartedBy` (the caller as `prov:starter`); every relation keeps `aiida:link_type`;
 * - every entity is `wasAttributedTo` its owner; every activity `wasAssociatedWith` its owner with its process class
 *   as `prov:plan` (an entity of type `prov:Plan`), and a calculation job also with its computer, the code as plan.
 */
export async function toProvJson(graph: ProvenanceGraph): Promise<ProvJsonDocument> {
  const entity: Record<string, ProvRecord> = {};
  const activity: Record<string, ProvRecord> = {};
  const agent: Record<string, ProvRecord> = {};
  const used: Record<string, ProvRecord> = {};
  const wasGeneratedBy: Record<string, ProvRecord> = {};
  const wasInformedBy: Record<string, ProvRecord> = {};
  const wasStartedBy: Record<string, ProvRecord> = {};
  const wasAttributedTo: Record<string, ProvRecord> = {};
  const wasAssociatedWith: Record<string, ProvRecord> = {};
  const counters = new Map<string, number>();
  const relationId = (kind: string): string => {
    const next = (counters.get(kind) ?? 0) + 1;
    counters.set(kind, next);
    return `_:${kind}${next}`;
  };

  const codeLinks = new Map(
    graph.links
      .filter((link) => link.linkType === LinkType.INPUT_CALC && link.label === 'code')
      .map((link) => [link.target, link]),
  );
  for (const user of graph.users.values()) agent[provUserId(user)] = userRecord(user);
  for (const computer of graph.computers.values()) agent[provComputerId(computer)] = computerRecord(computer);

  for (const node of graph.nodes.values()) {
    const id = provNodeId(node);
    const user = node.userId === null ? undefined : graph.users.get(node.userId);
    if (node instanceof ProcessNode) {
      activity[id] = await activityRecord(node);
      if (node.processType !== null) {
        const plan = provPlanId(node.processType);
        entity[plan] ??= {
          'prov:type': qualifiedName('prov:Plan'),
          'prov:label': node.processType,
          'aiida:process_type': node.processType,
        };
        if (user !== undefined) {
          wasAssociatedWith[relationId('assoc')] = {
            'prov:activity': id,
            'prov:agent': provUserId(user),
            'prov:plan': plan,
          };
        }
      }
      const computer = node.computerId === null ? undefined : graph.computers.get(node.computerId);
      if (isCalcJob(node) && computer !== undefined) {
        const code = codeLinks.get(node.pk ?? -1);
        const codeNode = code === undefined ? undefined : graph.nodes.get(code.source);
        wasAssociatedWith[relationId('assoc')] = {
          'prov:activity': id,
          'prov:agent': provComputerId(computer),
          ...(codeNode === undefined ? {} : { 'prov:plan': provNodeId(codeNode) }),
          'prov:role': 'computer',
        };
      }
    } else {
      entity[id] = await entityRecord(node);
      if (user !== undefined) {
        wasAttributedTo[relationId('attr')] = { 'prov:entity': id, 'prov:agent': provUserId(user) };
      }
    }
  }

  for (const link of graph.links) {
    const source = graph.nodes.get(link.source);
    const target = graph.nodes.get(link.target);
    if (source === undefined || target === undefined) continue;
    const attributes = { 'prov:role': link.label, 'aiida:link_type': link.linkType };
    switch (link.linkType) {
      case LinkType.INPUT_CALC:
      case LinkType.INPUT_WORK:
        used[relationId('used')] = {
          'prov:activity': provNodeId(target),
          'prov:entity': provNodeId(source),
          'prov:time': target.ctimeIso,
          ...attributes,
        };
        break;
      case LinkType.CREATE:
      case LinkType.RETURN:
        wasGeneratedBy[relationId('gen')] = {
          'prov:entity': provNodeId(target),
          'prov:activity': provNodeId(source),
          // a creation happens when the node is made; a return only hands an existing node on, at no known time
          ...(link.linkType === LinkType.CREATE ? { 'prov:time': target.ctimeIso } : {}),
          ...attributes,
        };
        break;
      case LinkType.CALL_CALC:
      case LinkType.CALL_WORK:
        wasInformedBy[relationId('comm')] = {
          'prov:informed': provNodeId(target),
          'prov:informant': provNodeId(source),
          ...attributes,
        };
        wasStartedBy[relationId('start')] = {
          'prov:activity': provNodeId(target),
          'prov:starter': provNodeId(source),
          'prov:time': target.ctimeIso,
          ...attributes,
        };
        break;
    }
  }

  const document: ProvJsonDocument = { prefix: { ...PROV_PREFIXES }, entity, activity, agent };
  const relations = {
    wasGeneratedBy,
    used,
    wasInformedBy,
    wasStartedBy,
    wasAttributedTo,
    wasAssociatedWith,
  };
  for (const [name, value] of Object.entries(relations)) {
    if (Object.keys(value).length > 0) Object.assign(document, { [name]: value });
  }
  return ProvJsonDocument.parse(document);
}

/** Options of {@link exportProvJson}. */
export type ProvJsonExportOptions = StorageOption;

/** The provenance of a process (see {@link collectProvenance}) as a W3C PROV-JSON document. */
export async function exportProvJson(
  process: ProcessNode | number,
  options: ProvJsonExportOptions = {},
): Promise<ProvJsonDocument> {
  return toProvJson(await collectProvenance(process, options));
}
