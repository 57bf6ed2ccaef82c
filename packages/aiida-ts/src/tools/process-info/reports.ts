import { Log } from '../../orm/entities/log.js';
import { CalcJobNode } from '../../orm/nodes/process/calcjob.js';
import {
  CalcFunctionNode,
  WorkChainNode,
  WorkFunctionNode,
  type ProcessNode,
} from '../../orm/nodes/process/process.js';
import { formatLocalTime, formatPythonDatetime } from './formatting.js';

/** The levels `verdi process report -l` accepts, with their numbers (aiida-core's `LOG_LEVELS`). */
export const REPORT_LEVELS = {
  NOTSET: 0,
  DEBUG: 10,
  INFO: 20,
  REPORT: 23,
  WARNING: 30,
  ERROR: 40,
  CRITICAL: 50,
} as const;
export type ReportLevel = keyof typeof REPORT_LEVELS;

/** Options of {@link workchainReport}. */
export interface WorkchainReportOptions {
  /** Only records at this level or above. */
  readonly levelname: ReportLevel;
  /** Spaces per nesting level. */
  readonly indentSize: number;
  /** Only work chains less than this many levels down (0 or undefined: no limit). */
  readonly maxDepth?: number | undefined;
}

/** One record of a report with the depth of its node below the reported work chain. */
export interface ReportEntry {
  readonly log: Log;
  readonly depth: number;
}

function levelOf(levelname: string): number {
  return (REPORT_LEVELS as Record<string, number>)[levelname] ?? 0;
}

/** The work chain and every work chain it called, at any depth, each with its depth (the root is at 0). */
export async function workchainTree(root: WorkChainNode): Promise<{ node: WorkChainNode; depth: number }[]> {
  const out: { node: WorkChainNode; depth: number }[] = [];
  const seen = new Set<number>();
  const visit = async (node: WorkChainNode, depth: number): Promise<void> => {
    if (seen.has(node.pk!)) return;
    seen.add(node.pk!);
    out.push({ node, depth });
    const called = (await node.getCalled())
      .filter((child): child is WorkChainNode => child instanceof WorkChainNode)
      .sort((a, b) => a.ctime.getTime() - b.ctime.getTime() || a.pk! - b.pk!);
    for (const child of called) await visit(child, depth + 1);
  };
  await visit(root, 0);
  return out;
}

/**
 * The records of a work chain and of the work chains below it (aiida-core follows only work chains, not the
 * calculations they call), at or above the level, sorted by time.
 */
export async function workchainReportEntries(
  root: WorkChainNode,
  options: WorkchainReportOptions,
): Promise<ReportEntry[]> {
  const minimum = levelOf(options.levelname);
  const entries: ReportEntry[] = [];
  for (const { node, depth } of await workchainTree(root)) {
    if (options.maxDepth !== undefined && options.maxDepth > 0 && depth >= options.maxDepth) continue;
    for (const log of await Log.find({ nodeId: node.pk! }, { storage: node.storage! })) {
      if (levelOf(log.levelname) >= minimum) entries.push({ log, depth });
    }
  }
  // A stable sort keeps the tree order for records of the same instant.
  return entries.sort((a, b) => (a.log.timeIso < b.log.timeIso ? -1 : a.log.timeIso > b.log.timeIso ? 1 : 0));
}

/**
 * aiida-core's work chain report: `2024-01-02 03:04:05 [pk | LEVEL]: message` per record, pk left-aligned and the
 * level right-aligned to the widest, the message indented by depth; a fixed sentence when there is none.
 */
export function formatWorkchainReport(entries: readonly ReportEntry[], indentSize: number): string {
  if (entries.length === 0) return 'No log messages recorded for this entry';
  const widthId = String(Math.max(...entries.map((e) => e.log.pk))).length;
  const widthLevel = Math.max(...entries.map((e) => e.log.levelname.length));
  return entries
    .map(({ log, depth }) => {
      const id = String(log.pk).padEnd(widthId);
      const level = log.levelname.padStart(widthLevel);
      return `${formatLocalTime(log.time)} [${id} | ${level}]:${' '.repeat(depth * indentSize)} ${log.message}`;
    })
    .join('\n');
}

/** aiida-core's process function report: `2024-01-02 03:04:05 [pk]: message` per record of the node. */
export function formatProcessFunctionReport(logs: readonly Log[]): string {
  return logs.map((log) => `${formatLocalTime(log.time)} [${log.pk}]: ${log.message}`).join('\n');
}

/** The parts of a calculation job report. */
export interface CalcJobReport {
  readonly state: string | null;
  readonly schedulerState: string | null;
  readonly schedulerStdout: string | null;
  readonly schedulerStderr: string | null;
  readonly logs: readonly Log[];
}

async function calcjobReportParts(node: CalcJobNode): Promise<CalcJobReport> {
  return {
    state: node.getState(),
    schedulerState: node.getSchedulerState(),
    schedulerStdout: await node.getSchedulerStdout(),
    schedulerStderr: await node.getSchedulerStderr(),
    logs: await node.base.logs.all(),
  };
}

// aiida-core prints the job state as its Python enum member (`CalcJobState.WITHSCHEDULER`), or `None`.
const enumName = (state: string | null): string =>
  state === null ? 'None' : `CalcJobState.${state.toUpperCase()}`;

/** aiida-core's calculation job report: state, scheduler output and errors, then every log record. */
export function formatCalcJobReport(node: CalcJobNode, report: CalcJobReport): string {
  const lines: string[] = [];
  const state =
    report.state === 'withscheduler'
      ? `${enumName(report.state)}, scheduler state: ${report.schedulerState || '(unknown)'}`
      : enumName(report.state);
  lines.push(`*** ${String(node.pk)}${node.label ? ` [${node.label}]` : ''}: ${state}`);
  if (report.schedulerStdout === null) lines.push('*** Scheduler output: N/A');
  else if (report.schedulerStdout !== '') lines.push(`*** Scheduler output:\n${report.schedulerStdout}`);
  else lines.push('*** (empty scheduler output file)');
  if (report.schedulerStderr === null) lines.push('*** Scheduler errors: N/A');
  else if (report.schedulerStderr !== '') lines.push(`*** Scheduler errors:\n${report.schedulerStderr}`);
  else lines.push('*** (empty scheduler errors file)');
  lines.push(report.logs.length > 0 ? `*** ${report.logs.length} LOG MESSAGES:` : '*** 0 LOG MESSAGES');
  for (const log of report.logs) {
    lines.push(`+-> ${log.levelname} at ${formatPythonDatetime(log.timeIso)}`);
    for (const line of log.message.split(/\r?\n/)) lines.push(` | ${line}`);
  }
  return lines.join('\n');
}

function logDocument(log: Log, depth?: number): Record<string, unknown> {
  return {
    pk: log.pk,
    uuid: log.uuid,
    node_pk: log.nodeId,
    time: log.time.toISOString(),
    levelname: log.levelname,
    loggername: log.loggername,
    message: log.message,
    ...(depth === undefined ? {} : { depth }),
  };
}

/** What `verdi process report` prints for one process: the text, and the `--json` document. */
export interface ProcessReport {
  readonly text: string;
  readonly document: Record<string, unknown>;
}

/** The report of one process, chosen by its kind as aiida-core does. */
export async function processReport(
  process: ProcessNode,
  options: WorkchainReportOptions,
): Promise<ProcessReport> {
  if (process instanceof CalcJobNode) {
    const parts = await calcjobReportParts(process);
    return {
      text: formatCalcJobReport(process, parts),
      document: {
        pk: process.pk,
        kind: 'calcjob',
        state: parts.state,
        scheduler_state: parts.schedulerState,
        scheduler_stdout: parts.schedulerStdout,
        scheduler_stderr: parts.schedulerStderr,
        logs: parts.logs.map((log) => logDocument(log)),
      },
    };
  }
  if (process instanceof WorkChainNode) {
    const entries = await workchainReportEntries(process, options);
    return {
      text: formatWorkchainReport(entries, options.indentSize),
      document: {
        pk: process.pk,
        kind: 'workchain',
        logs: entries.map(({ log, depth }) => logDocument(log, depth)),
      },
    };
  }
  if (process instanceof CalcFunctionNode || process instanceof WorkFunctionNode) {
    const logs = await process.base.logs.all();
    return {
      text: formatProcessFunctionReport(logs),
      document: { pk: process.pk, kind: 'process_function', logs: logs.map((log) => logDocument(log)) },
    };
  }
  return {
    text: `Nothing to show for node type ${process.constructor.name}`,
    document: { pk: process.pk, kind: 'other', logs: [] },
  };
}
