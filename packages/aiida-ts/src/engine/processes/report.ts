import { basename, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Log, LogLevel, type LogLevelName } from '../../orm/entities/log.js';
import type { Node } from '../../orm/nodes/node.js';
import { getLogger, storesDbRecords } from '../logging.js';

const START = performance.timeOrigin;
const FRAME = /^\s*at (?:async )?(?:(.+?) \()?(.+?):(\d+):(\d+)\)?$/;

/** The function that called `report` (the step name, aiida's `inspect.stack()[1][3]`), with its file and line. */
export interface CallSite {
  readonly functionName: string;
  readonly file: string;
  readonly line: number;
}

/** The call site `depth` frames above the caller of this function. */
export function callSite(depth: number): CallSite {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = depth + 3;
  const lines = (new Error().stack ?? '').split('\n').slice(1);
  Error.stackTraceLimit = limit;
  const match = FRAME.exec(lines[depth + 1] ?? '');
  if (match === null) return { functionName: '<module>', file: '', line: 0 };
  const qualified = match[1] ?? '<module>';
  const functionName =
    qualified
      .split('.')
      .at(-1)
      ?.replace(/^<anonymous>$/, '<lambda>') ?? '<module>';
  let file = match[2] ?? '';
  if (file.startsWith('file://')) {
    try {
      file = fileURLToPath(file);
    } catch {
      // keep the URL
    }
  }
  return { functionName, file, line: Number(match[3]) };
}

/** What one log record of a process says. */
export interface ProcessLogRecord {
  readonly node: Node;
  readonly message: string;
  readonly levelname: LogLevelName;
  readonly site: CallSite;
  readonly excText?: string | null;
}

/**
 * Stores a process log record as aiida does (`DbLogHandler`): on the node's `Log`, with logger name
 * `aiida.orm.nodes.<node type>` and the metadata layout of a Python logging record (`name`, `msg`, `levelname`,
 * `levelno`, `pathname`, `funcName`, `created`, `dbnode_id`, …). Records below `logging.db_loglevel` and records of
 * unstored nodes are not stored. Resolves to the record, or null.
 */
export async function storeLogRecord(record: ProcessLogRecord): Promise<Log | null> {
  const { node, message, levelname, site } = record;
  if (!node.isStored || !storesDbRecords(levelname)) return null;
  const now = Date.now();
  const loggername = Log.loggerNameFor(node);
  return Log.create({
    node,
    message,
    levelname,
    loggername,
    time: new Date(now),
    metadata: {
      name: loggername,
      msg: message,
      args: '()',
      levelname,
      levelno: LogLevel[levelname],
      pathname: site.file,
      filename: site.file === '' ? '' : basename(site.file),
      module: site.file === '' ? '' : basename(site.file, extname(site.file)),
      exc_text: record.excText ?? null,
      stack_info: null,
      lineno: site.line,
      funcName: site.functionName,
      created: now / 1000,
      msecs: now % 1000,
      relativeCreated: now - START,
      thread: 0,
      threadName: 'MainThread',
      processName: 'MainProcess',
      process: process.pid,
      dbnode_id: node.pk,
      message,
    },
  });
}

/** The fields of a process's record on the terminal log. */
export interface ProcessLogFields {
  readonly pk: number | null;
  readonly process: string;
  /** The node's logger name (`aiida.orm.nodes.process.workflow.workchain.WorkChainNode`), as aiida-core prints it. */
  readonly logger?: string;
}

/** Writes a process's report to the terminal log (`aiida` logger at REPORT level), with the process's pk and class. */
export function logReport(message: string, fields: ProcessLogFields): void {
  getLogger('aiida').report(fields, message);
}
