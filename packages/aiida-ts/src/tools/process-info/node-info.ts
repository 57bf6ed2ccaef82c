import { LinkType, PORT_NAMESPACE_SEPARATOR } from '../../orm/links.js';
import type { LinkTriple, Node } from '../../orm/nodes/node.js';
import { CalcJobNode } from '../../orm/nodes/process/calcjob.js';
import { ProcessNode } from '../../orm/nodes/process/process.js';
import { formatProcessState, formatPythonDatetime } from './formatting.js';
import { tabulate, type Cell } from './tabulate.js';

const CALL_TYPES = [LinkType.CALL_CALC, LinkType.CALL_WORK];
const INPUT_TYPES = [LinkType.INPUT_CALC, LinkType.INPUT_WORK];
const OUTPUT_TYPES = [LinkType.CREATE, LinkType.RETURN];
const NESTED_INDENT = 4;

/** The links of a process node that `verdi process show` lists, each group in display order. */
export interface ProcessLinks {
  readonly inputs: readonly LinkTriple[];
  readonly outputs: readonly LinkTriple[];
  /** Oldest first. */
  readonly callers: readonly LinkTriple[];
  /** Oldest first. */
  readonly called: readonly LinkTriple[];
}

const byCtime = (a: LinkTriple, b: LinkTriple): number =>
  a.node.ctime.getTime() - b.node.ctime.getTime() || (a.node.pk ?? 0) - (b.node.pk ?? 0);

/** The inputs, outputs, callers and called processes of a node (any node: data has only some of them). */
export async function processLinks(node: Node): Promise<ProcessLinks> {
  const links = node.base.links;
  // one query each way, split here: half the round trips of asking for each group
  const [incoming, outgoing] = await Promise.all([
    links.getIncoming({ linkType: [...INPUT_TYPES, ...CALL_TYPES] }),
    links.getOutgoing({ linkType: [...OUTPUT_TYPES, ...CALL_TYPES] }),
  ]);
  const ofTypes = (triples: readonly LinkTriple[], types: readonly LinkType[]) =>
    triples.filter((triple) => types.includes(triple.linkType));
  return {
    inputs: ofTypes(incoming.all(), INPUT_TYPES),
    outputs: ofTypes(outgoing.all(), OUTPUT_TYPES),
    callers: ofTypes(incoming.all(), CALL_TYPES).sort(byCtime),
    called: ofTypes(outgoing.all(), CALL_TYPES).sort(byCtime),
  };
}

/** The `state` row of a process summary: `Finished [0]`, `Finished [410] <message>`, `Excepted <exception>`. */
export function summaryState(process: ProcessNode): string | null {
  const state = process.processState;
  if (state === null) return null;
  const text = formatProcessState(state);
  if (state === 'finished') {
    const message = process.exitMessage;
    return message
      ? `${text} [${String(process.exitStatus)}] ${message}`
      : `${text} [${String(process.exitStatus)}]`;
  }
  if (state === 'excepted') return `${text} <${process.exception ?? ''}>`;
  return text;
}

/**
 * The Property/Value rows of aiida-core's node summary: for a process its label as `type` and its state, then pk,
 * uuid, label, description, ctime, mtime and the computer when it has one.
 */
export async function nodeSummaryRows(node: Node): Promise<[string, string][]> {
  const rows: [string, string][] = [];
  if (node instanceof ProcessNode) {
    rows.push(['type', node.processLabel ?? 'None']);
    const state = summaryState(node);
    if (state !== null) rows.push(['state', state]);
  } else {
    rows.push(['type', node.constructor.name]);
  }
  rows.push(
    ['pk', String(node.pk)],
    ['uuid', node.uuid],
    ['label', node.label],
    ['description', node.description],
    ['ctime', formatPythonDatetime(node.ctimeIso)],
    ['mtime', formatPythonDatetime(node.mtimeIso)],
  );
  const computer = await node.getComputer();
  if (computer !== null) rows.push(['computer', `[${String(computer.pk)}] ${computer.label}`]);
  if (node instanceof CalcJobNode) {
    // where the job is: its step, its scheduler job, what the scheduler says and where it runs
    const state = node.getState();
    if (state !== null) rows.push(['calcjob state', state]);
    const jobId = node.getJobId();
    if (jobId !== null) rows.push(['job id', jobId]);
    const schedulerState = node.getSchedulerState();
    if (schedulerState !== null) rows.push(['scheduler state', schedulerState]);
    const workdir = node.getRemoteWorkdir();
    if (workdir !== null) rows.push(['remote workdir', workdir]);
  }
  return rows;
}

type Nested = Map<string, Nested | LinkTriple>;

/** Rebuild the port namespaces from flat link labels (`inner__x` → `inner` › `x`): namespaces first, then by name. */
export function nestLinks(triples: readonly LinkTriple[]): Nested {
  const root: Nested = new Map();
  for (const triple of triples) {
    const parts = triple.linkLabel.split(PORT_NAMESPACE_SEPARATOR);
    const leaf = parts.pop() ?? triple.linkLabel;
    let current = root;
    for (const part of parts) {
      let next = current.get(part);
      if (next === undefined || !(next instanceof Map)) {
        next = new Map();
        current.set(part, next);
      }
      current = next;
    }
    current.set(leaf, triple);
  }
  return root;
}

function sortedEntries(nested: Nested): [string, Nested | LinkTriple][] {
  return [...nested.entries()].sort(([a, va], [b, vb]) => {
    const nsA = va instanceof Map ? 0 : 1;
    const nsB = vb instanceof Map ? 0 : 1;
    return nsA - nsB || (a < b ? -1 : a > b ? 1 : 0);
  });
}

/** Rows `[indented label, pk, class name, link type]` of a nested link table; a namespace row has only its name. */
export function nestedRows(nested: Nested, depth = 0): [string, number | null, string, string][] {
  const rows: [string, number | null, string, string][] = [];
  for (const [label, value] of sortedEntries(nested)) {
    const indent = ' '.repeat(depth * NESTED_INDENT);
    if (value instanceof Map) {
      rows.push([`${indent}${label}`, null, '', '']);
      rows.push(...nestedRows(value, depth + 1));
    } else {
      rows.push([`${indent}${label}`, value.node.pk, value.node.constructor.name, value.linkType]);
    }
  }
  return rows;
}

/** Options of {@link formatNodeInfo} and {@link formatLinkSections}. */
export interface FormatNodeInfoOptions {
  /** Add a `Link type` column to the Inputs and Outputs tables (what `verdi node show` prints). */
  readonly linkTypes?: boolean;
}

/**
 * The sections after the summary in aiida-core's `get_node_info`, each preceded by a blank line: Inputs and Outputs
 * (nested by namespace), the Caller and Called processes (with their process labels), and how many log messages
 * the node has. Empty string when there is none.
 */
export async function formatLinkSections(node: Node, options: FormatNodeInfoOptions = {}): Promise<string> {
  const links = await processLinks(node);
  const nestedTable = (heading: string, triples: readonly LinkTriple[]) => {
    const rows = nestedRows(nestLinks(triples));
    return options.linkTypes === true
      ? tabulate(rows, { headers: [heading, 'PK', 'Type', 'Link type'] })
      : tabulate(
          rows.map((row) => row.slice(0, 3)),
          { headers: [heading, 'PK', 'Type'] },
        );
  };
  const flat = (triples: readonly LinkTriple[]): Cell[][] =>
    triples.map((t) => [t.linkLabel, t.node.pk, t.node.base.attributes.get('process_label', '') as Cell]);
  let result = '';
  if (links.inputs.length > 0) result += `\n\n${nestedTable('Inputs', links.inputs)}`;
  if (links.outputs.length > 0) result += `\n\n${nestedTable('Outputs', links.outputs)}`;
  if (links.callers.length > 0)
    result += `\n\n${tabulate(flat(links.callers), { headers: ['Caller', 'PK', 'Type'] })}`;
  if (links.called.length > 0)
    result += `\n\n${tabulate(flat(links.called), { headers: ['Called', 'PK', 'Type'] })}`;
  const logCount = await node.base.logs.count();
  if (logCount > 0) {
    const rows = [
      [`There are ${logCount} log messages for this calculation`],
      [`Run 'verdi process report ${String(node.pk)}' to see them`],
    ];
    result += `\n\n${tabulate(rows, { headers: ['Log messages'] })}`;
  }
  return result;
}

/**
 * aiida-core's `get_node_info`: the Property/Value summary table followed by {@link formatLinkSections}.
 */
export async function formatNodeInfo(node: Node, options: FormatNodeInfoOptions = {}): Promise<string> {
  const summary = tabulate(await nodeSummaryRows(node), { headers: ['Property', 'Value'] });
  return `${summary}${await formatLinkSections(node, options)}`;
}

/** The caller, called processes and number of log messages of a process, for `--json` documents. */
export async function processRelations(process: ProcessNode): Promise<{
  caller: LinkDocument | null;
  called: LinkDocument[];
  log_messages: number;
}> {
  const links = await processLinks(process);
  return {
    caller: links.callers[0] === undefined ? null : linkDocument(links.callers[0], true),
    called: links.called.map((t) => linkDocument(t, true)),
    log_messages: await process.base.logs.count(),
  };
}

/** One link as `--json` shows it. */
export interface LinkDocument {
  readonly link_label: string;
  readonly link_type: string;
  readonly pk: number | null;
  readonly uuid: string;
  readonly type: string;
  readonly process_label?: string | null;
}

function linkDocument(triple: LinkTriple, withProcessLabel: boolean): LinkDocument {
  return {
    link_label: triple.linkLabel,
    link_type: triple.linkType,
    pk: triple.node.pk,
    uuid: triple.node.uuid,
    type: triple.node.constructor.name,
    ...(withProcessLabel
      ? { process_label: (triple.node.base.attributes.get('process_label', null) as string | null) ?? null }
      : {}),
  };
}

/** The `--json` document of `verdi process show` for one process. */
export async function processDocument(process: ProcessNode): Promise<Record<string, unknown>> {
  const links = await processLinks(process);
  const computer = await process.getComputer();
  const logCount = await process.base.logs.count();
  const byLabel = (a: LinkTriple, b: LinkTriple) =>
    a.linkLabel < b.linkLabel ? -1 : a.linkLabel > b.linkLabel ? 1 : 0;
  return {
    pk: process.pk,
    uuid: process.uuid,
    type: process.constructor.name,
    node_type: process.nodeType,
    process_type: process.processType,
    process_label: process.processLabel,
    process_state: process.processState,
    process_status: process.processStatus,
    exit_status: process.exitStatus,
    exit_message: process.exitMessage,
    exception: process.exception,
    paused: process.paused,
    sealed: process.isSealed,
    label: process.label,
    description: process.description,
    ctime: process.ctimeIso,
    mtime: process.mtimeIso,
    computer: computer === null ? null : { pk: computer.pk, label: computer.label },
    ...(process instanceof CalcJobNode
      ? {
          calcjob_state: process.getState(),
          job_id: process.getJobId(),
          scheduler_state: process.getSchedulerState(),
          remote_workdir: process.getRemoteWorkdir(),
        }
      : {}),
    inputs: [...links.inputs].sort(byLabel).map((t) => linkDocument(t, false)),
    outputs: [...links.outputs].sort(byLabel).map((t) => linkDocument(t, false)),
    caller: links.callers[0] === undefined ? null : linkDocument(links.callers[0], true),
    called: links.called.map((t) => linkDocument(t, true)),
    log_messages: logCount,
  };
}
