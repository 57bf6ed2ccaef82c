import { ValidationError } from '../../errors.js';
import { LinkType } from '../../orm/links.js';
import { Node } from '../../orm/nodes/node.js';
import { CalcJobNode } from '../../orm/nodes/process/calcjob.js';
import { ProcessNode, WorkChainNode } from '../../orm/nodes/process/process.js';
import { calledDescendants } from '../../querybuilder/call-links.js';
import { formatProcessState } from './formatting.js';

const TREE_MIDDLE = '\u251c\u2500\u2500 ';
const TREE_LAST = '\u2514\u2500\u2500 ';
const TREE_PIPE = '\u2502   ';
const TREE_SPACE = '    ';
const CALL_TYPES = [LinkType.CALL_CALC, LinkType.CALL_WORK];

/** One process of a call tree, with the processes it called (oldest first). */
export interface CallTree {
  readonly pk: number;
  readonly processLabel: string | null;
  readonly processState: string | null;
  readonly exitStatus: number | null;
  readonly stepperStateInfo: string | null;
  /** For a calculation job: the step it is in (`withscheduler`, …), its scheduler job id and the scheduler's state. */
  readonly calcjob: CalcJobProgress | null;
  /** The label of the call link from the caller (null for the root or when not asked for). */
  readonly callLinkLabel: string | null;
  readonly called: readonly CallTree[];
}

/** Where a calculation job is: its step, its scheduler job and the scheduler's state of it (null until known). */
export interface CalcJobProgress {
  readonly state: string | null;
  readonly jobId: string | null;
  readonly schedulerState: string | null;
}

/** The progress of a calculation job node (see {@link CalcJobProgress}). */
export function calcJobProgress(node: CalcJobNode): CalcJobProgress {
  return { state: node.getState(), jobId: node.getJobId(), schedulerState: node.getSchedulerState() };
}

/** `withscheduler | job 123: running`: the step of an active calculation job, its job id and scheduler state. */
export function formatCalcJobProgress(progress: CalcJobProgress): string {
  const parts = [progress.state ?? 'created'];
  if (progress.jobId !== null)
    parts.push(
      `job ${progress.jobId}${progress.schedulerState === null ? '' : `: ${progress.schedulerState}`}`,
    );
  return parts.join(' | ');
}

/** Options of {@link buildCallTree}. */
export interface CallTreeOptions {
  /** Levels to include: 1 is the process alone; undefined is everything. Must not be negative. */
  readonly maxDepth?: number | undefined;
  /** Look up the call link label of each called process. */
  readonly callLinkLabel?: boolean;
}

/**
 * The call tree below a process, as `verdi process status` draws it. `maxDepth` 0 gives null (nothing to draw).
 *
 * @throws RangeError for a negative `maxDepth`.
 */
export async function buildCallTree(
  process: ProcessNode,
  options: CallTreeOptions = {},
): Promise<CallTree | null> {
  const { maxDepth } = options;
  if (maxDepth !== undefined && maxDepth < 0) throw new ValidationError('max_depth must be >= 0');
  if (maxDepth === 0) return null;
  const calledBy = await calledProcesses(process, maxDepth);
  const visit = (
    node: ProcessNode,
    depthLeft: number | undefined,
    link: string | null,
    seen: ReadonlySet<number>,
  ): CallTree => {
    const called: CallTree[] = [];
    if (depthLeft !== 1 && !seen.has(node.pk!)) {
      const below = new Set(seen).add(node.pk!);
      for (const call of calledBy.get(node.pk!) ?? []) {
        called.push(
          visit(
            call.node,
            depthLeft === undefined ? undefined : depthLeft - 1,
            options.callLinkLabel === true ? call.label : null,
            below,
          ),
        );
      }
    }
    return {
      pk: node.pk!,
      processLabel: node.processLabel,
      processState: node.processState,
      exitStatus: node.exitStatus,
      stepperStateInfo: node instanceof WorkChainNode ? node.stepperStateInfo : null,
      calcjob: node instanceof CalcJobNode ? calcJobProgress(node) : null,
      callLinkLabel: link,
      called,
    };
  };
  let rootLink: string | null = null;
  if (options.callLinkLabel === true) {
    const incoming = (await process.base.links.getIncoming({ linkType: CALL_TYPES })).first();
    rootLink = incoming?.linkLabel ?? null;
  }
  return visit(process, maxDepth, rootLink, new Set());
}

/** Call links followed at most this deep when no depth is given (a guard against a corrupt, cyclic graph). */
const MAX_CALL_DEPTH = 10_000;

/**
 * Every process called below `process` (down to `maxDepth` levels of the tree, the root being level 1), by the pk of
 * its caller, oldest first: one recursive query over the call links instead of one query per process.
 */
async function calledProcesses(
  process: ProcessNode,
  maxDepth: number | undefined,
): Promise<Map<number, { label: string; node: ProcessNode }[]>> {
  const byCaller = new Map<number, { label: string; node: ProcessNode }[]>();
  const storage = process.storage;
  const levels = Math.min(maxDepth === undefined ? MAX_CALL_DEPTH : maxDepth - 1, MAX_CALL_DEPTH);
  const pk = process.pk;
  if (storage === undefined || pk === null || levels < 1) return byCaller;
  const rows = await calledDescendants(storage, pk, levels);
  for (const row of rows) {
    // (the row as it is: the node reads its own columns, and copying it without the two link columns costs more)
    const node = Node.fromRow(storage, row);
    if (!(node instanceof ProcessNode)) continue;
    const callerId = Number(row.caller_id);
    const list = byCaller.get(callerId) ?? [];
    list.push({ label: row.call_label, node });
    byCaller.set(callerId, list);
  }
  // each creation time read once (a node's `ctime` is a new Date per read), not once per comparison
  const created = new Map<ProcessNode, number>();
  for (const list of byCaller.values()) for (const { node } of list) created.set(node, node.ctime.getTime());
  for (const list of byCaller.values())
    list.sort((a, b) => created.get(a.node)! - created.get(b.node)! || a.node.pk! - b.node.pk!);
  return byCaller;
}

const TERMINAL_STATES = new Set(['finished', 'excepted', 'killed']);

/**
 * One line of the tree: `Label<pk> State`, with ` | link` inside the brackets when the call link label is not the
 * default `CALL`, the exit status and a work chain's stepper state in brackets.
 */
export function callTreeLine(tree: CallTree): string {
  const label = tree.processLabel ?? 'None';
  const state = formatProcessState(tree.processState);
  let line =
    tree.callLinkLabel !== null && tree.callLinkLabel !== 'CALL'
      ? `${label}<${tree.pk} | ${tree.callLinkLabel}> ${state}`
      : `${label}<${tree.pk}> ${state}`;
  if (tree.exitStatus !== null) line += ` [${tree.exitStatus}]`;
  if (tree.stepperStateInfo) line += ` [${tree.stepperStateInfo}]`;
  // an active calculation job says which step it is in and what the scheduler reports
  if (tree.calcjob !== null && !TERMINAL_STATES.has(tree.processState ?? ''))
    line += ` [${formatCalcJobProgress(tree.calcjob)}]`;
  return line;
}

/** Draw a call tree like the POSIX `tree` command, with `├──`, `└──` and `│` connectors. */
export function formatCallTree(tree: CallTree | null): string {
  if (tree === null) return '';
  const lines: string[] = [callTreeLine(tree)];
  const walk = (node: CallTree, prefix: string): void => {
    node.called.forEach((child, index) => {
      const last = index === node.called.length - 1;
      lines.push(`${prefix}${last ? TREE_LAST : TREE_MIDDLE}${callTreeLine(child)}`);
      walk(child, `${prefix}${last ? TREE_SPACE : TREE_PIPE}`);
    });
  };
  // aiida-core indents the root's children by four spaces too.
  walk(tree, TREE_SPACE);
  return lines.join('\n');
}

/** The `--json` form of a call tree (snake_case keys, as aiida's attribute names). */
export function callTreeDocument(tree: CallTree): Record<string, unknown> {
  return {
    pk: tree.pk,
    process_label: tree.processLabel,
    process_state: tree.processState,
    exit_status: tree.exitStatus,
    stepper_state_info: tree.stepperStateInfo,
    ...(tree.calcjob === null
      ? {}
      : {
          calcjob_state: tree.calcjob.state,
          job_id: tree.calcjob.jobId,
          scheduler_state: tree.calcjob.schedulerState,
        }),
    call_link_label: tree.callLinkLabel,
    called: tree.called.map(callTreeDocument),
  };
}
