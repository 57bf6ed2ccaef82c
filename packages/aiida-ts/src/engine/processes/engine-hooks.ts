import {
  ExitCode,
  PersistenceError,
  PortNamespace,
  ProcessState,
  isPlainObject,
  type Checkpoint,
  type JsonValue,
  type KillMessage,
  type Pid,
  type ProcessClass,
  type ProcessSpec,
  type SpecTypes,
} from 'plumpy-ts';
import { InvalidOperationError, NotExistentError } from '../../errors.js';
import { Log } from '../../orm/entities/log.js';
import { LinkType, PORT_NAMESPACE_SEPARATOR } from '../../orm/links.js';
import { Node } from '../../orm/nodes/node.js';
import {
  CalculationNode,
  ProcessAttribute,
  type ProcessNode,
  WorkflowNode,
} from '../../orm/nodes/process/process.js';
import { nowTimestamp } from '../../storage/dialect.js';
import { getLogger } from '../logging.js';
import {
  computerRefUuid,
  encodeComputerRef,
  encodeNodeRef,
  nodeRefUuid,
  preloadedFor,
  releasePreloaded,
} from '../persistence.js';
import { Computer } from '../../orm/entities/computer.js';
import type { ProcessRunner } from './process-runner.js';
import { currentCreationTicket } from './creation.js';
import { exceptionText, flattenValues, nestByLabel, ProcessProvenance } from './provenance.js';

export { exceptionText };
import { callSite, logReport, storeLogRecord } from './report.js';

/** The engine's process classes keep their provenance under this key. */
export interface EngineHost {
  readonly pid: Pid;
  readonly outputs: Readonly<Record<string, unknown>>;
  readonly status: string | null;
  readonly paused: boolean;
  spec(): ProcessSpec<SpecTypes>;
  hasTerminated(): boolean;
  deferWork(work: PromiseLike<unknown>): void;
}

/** The provenance handed over by the engine to a process it is constructing, or undefined. */
export function provenanceFromTicket(): ProcessProvenance | undefined {
  const ticket = currentCreationTicket();
  return ticket === undefined ? undefined : new ProcessProvenance(ticket.provenance);
}

/** The parsed inputs handed over by the engine, or undefined when the process is not made by the engine. */
export function inputsFromTicket(): Readonly<Record<string, unknown>> | undefined {
  return currentCreationTicket()?.parsedInputs;
}

/** The provenance of a process being loaded from a checkpoint: its node was preloaded by the persister. */
export function provenanceFromCheckpoint(
  saved: Checkpoint,
  runner: ProcessRunner,
  spec: ProcessSpec<SpecTypes>,
  outputs: Readonly<Record<string, unknown>>,
): ProcessProvenance {
  const pid = saved['pid'] as Pid;
  const preloaded = preloadedFor(pid);
  if (preloaded === undefined) {
    throw new PersistenceError('the process node was not loaded: continue processes through the runner', pid);
  }
  const linked = [
    ...flattenValues(spec.outputs, outputs).map(([label]) => label),
    ...preloaded.linkedOutputs,
  ];
  return new ProcessProvenance({
    node: preloaded.process,
    runner,
    storeProvenance: true,
    linkedOutputs: linked,
    persisted: true,
  });
}

/** A value for a checkpoint: nodes as references to their uuid. */
export function encodeEngineValue(value: unknown, fallback: (value: unknown) => JsonValue): JsonValue {
  if (value instanceof Node) return encodeNodeRef(value);
  if (value instanceof Computer) return encodeComputerRef(value);
  return fallback(value);
}

/** The inverse of {@link encodeEngineValue}: references become the nodes preloaded for the process. */
export function decodeEngineValue(
  json: JsonValue,
  pid: Pid,
  fallback: (json: JsonValue) => unknown,
): unknown {
  const computerUuid = computerRefUuid(json);
  if (computerUuid !== undefined) {
    const computer = preloadedFor(pid)?.computers.get(computerUuid);
    if (computer === undefined)
      throw new PersistenceError(
        `the checkpoint refers to the computer ${computerUuid}, which was not loaded`,
        pid,
      );
    return computer;
  }
  const uuid = nodeRefUuid(json);
  if (uuid === undefined) return fallback(json);
  const node = preloadedFor(pid)?.nodes.get(uuid);
  if (node === undefined)
    throw new PersistenceError(`the checkpoint refers to the node ${uuid}, which was not loaded`, pid);
  return node;
}

/** Forgets what was preloaded to load the process `pid`. */
export function loaded(pid: Pid): void {
  releasePreloaded(pid);
}

const TERMINAL: ReadonlySet<ProcessState> = new Set([
  ProcessState.FINISHED,
  ProcessState.EXCEPTED,
  ProcessState.KILLED,
]);

/** Records the state just entered on the node (with the status for the states that have one). */
export function recordState(
  host: EngineHost,
  provenance: ProcessProvenance,
  label: ProcessState,
  flush = true,
): void {
  provenance.writer.set({ [ProcessAttribute.PROCESS_STATE]: label });
  // A checkpointed process writes each state with its checkpoint before its next step (a reload then repeats at most
  // the step that was running). Its `created` checkpoint, and every state of a process function (not checkpointed),
  // are written with what comes next, at the latest after a moment: a quick process reaches the database in few
  // writes. The end is written before the run resolves, and its failure reported, by `onTerminated`.
  // `flush` false: a state whose step a reload may repeat from the previous checkpoint at no cost (the process says
  // which) is written with the next one.
  if (flush && provenance.persisted && label !== ProcessState.CREATED && !TERMINAL.has(label))
    host.deferWork(provenance.writer.flush());
  recordStateChangeTime(host, provenance, label);
}

/** When each storage last had its `process|state_change|<kind>` setting written (ms), to write it at most each second. */
const stateChangeWritten = new WeakMap<object, Map<string, number>>();

/**
 * Writes the `process|state_change|calculation|work` setting aiida-core writes on every state change (its
 * `set_process_state_change_timestamp`), so that `verdi process list` on either side says when an entry last changed
 * state. At most once a second per kind, except for an end state, which is always written.
 */
function recordStateChangeTime(host: EngineHost, provenance: ProcessProvenance, label: ProcessState): void {
  const node = provenance.node;
  const storage = node.storage;
  if (!provenance.storeProvenance || storage === undefined) return;
  const kind =
    node instanceof CalculationNode ? 'calculation' : node instanceof WorkflowNode ? 'work' : undefined;
  if (kind === undefined) return;
  let written = stateChangeWritten.get(storage);
  if (written === undefined) stateChangeWritten.set(storage, (written = new Map<string, number>()));
  const now = Date.now();
  if (!TERMINAL.has(label) && now - (written.get(kind) ?? 0) < 1_000) return;
  written.set(kind, now);
  const key = `process|state_change|${kind}`;
  // The end goes with the write of the end of the process (one commit instead of two; on PostgreSQL in the same
  // statement), all or nothing with it; the others on their own, where a failure is only logged.
  if (TERMINAL.has(label)) {
    provenance.writer.joinStatement(storage.globalVariableWrite(key, nowTimestamp()));
    return;
  }
  host.deferWork(
    storage.setGlobalVariable(key, nowTimestamp()).catch((error: unknown) => {
      getLogger('aiida').warn({ err: error, pk: node.pk }, 'could not record the time of the state change');
    }),
  );
}

/**
 * Mirrors the process status on the node (`process_status`; removed when null). `lazy` leaves it to the node's next
 * write (at the latest `LAZY_WRITE_MS` later, see `NodeWriter`) instead of a write of its own: the status a calculation job shows
 * while a transport task runs, which the task's own write-ahead or its state change carries anyway.
 */
export function recordStatus(
  host: EngineHost,
  provenance: ProcessProvenance,
  status: string | null,
  lazy = false,
): void {
  if (status === null) provenance.writer.remove(ProcessAttribute.PROCESS_STATUS);
  else provenance.writer.set({ [ProcessAttribute.PROCESS_STATUS]: status });
  if (!lazy && !host.hasTerminated()) host.deferWork(provenance.writer.flush());
}

/** The exit status and message of a finished process from its result (aiida's `on_finish`). */
export function exitCodeOf(
  result: unknown,
  successful: boolean,
  exitCodes: Readonly<Record<string, ExitCode>>,
): ExitCode {
  if (result instanceof ExitCode) return result;
  if (typeof result === 'number' && Number.isInteger(result)) return new ExitCode(result);
  if (result === undefined || result === null) {
    return successful ? new ExitCode(0) : (exitCodes['ERROR_MISSING_OUTPUT'] ?? new ExitCode(11));
  }
  throw new InvalidOperationError(
    `the result should be an integer, ExitCode or nothing, got ${describeValue(result)}`,
  );
}

/** A value in an error message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) return value.constructor.name;
  return typeof value === 'function' ? 'a function' : String(value);
}

/** Records a finished process's exit code on the node. */
export function recordFinish(provenance: ProcessProvenance, code: ExitCode): void {
  const values: Record<string, unknown> = { [ProcessAttribute.EXIT_STATUS]: code.status };
  if (code.message !== null) values[ProcessAttribute.EXIT_MESSAGE] = code.message;
  provenance.writer.set(values);
}

/** Records an excepted process's error on the node and in its report (aiida's `on_except`). */
export function recordException(process: EngineHost, provenance: ProcessProvenance, error: unknown): void {
  const text = exceptionText(error);
  provenance.writer.set({ [ProcessAttribute.EXCEPTION]: text });
  writeReport(process, provenance, text, { functionName: 'on_except', file: '', line: 0 });
}

/** Records the kill message as the status. */
export function recordKill(provenance: ProcessProvenance, msg: KillMessage | null): void {
  const text = msg?.message ?? null;
  if (text !== null) provenance.writer.set({ [ProcessAttribute.PROCESS_STATUS]: text });
}

/** Stores a report of the process as a `Log` entry of its node and shows it on the terminal log. */
export function writeReport(
  process: EngineHost,
  provenance: ProcessProvenance,
  message: string,
  site: { readonly functionName: string; readonly file: string; readonly line: number },
  level: 'REPORT' | 'ERROR' | 'WARNING' | 'INFO' = 'REPORT',
): void {
  const pk = provenance.node.pk;
  const className = processLabelOf(process);
  const text =
    level === 'REPORT'
      ? `[${String(pk ?? provenance.node.uuid)}|${className}|${site.functionName}]: ${message}`
      : message;
  const fields = { pk, process: className, logger: Log.loggerNameFor(provenance.node) };
  if (level === 'REPORT') logReport(text, fields);
  else getLogger('aiida').error(fields, text);
  if (!provenance.storeProvenance) return;
  // Written with the node's next write; tracked also after the end: the run resolves once the report is stored.
  const record = { node: provenance.node, message: text, levelname: level, site } as const;
  process.deferWork(
    provenance.node.isStored
      ? provenance.writer.enqueue(() => storeLogRecord(record))
      : storeLogRecord(record),
  );
}

/** The call site of the function that called `report` (two frames above this helper's caller). */
export function reportSite(): {
  readonly functionName: string;
  readonly file: string;
  readonly line: number;
} {
  return callSite(2);
}

function processLabelOf(process: object): string {
  const cls = process.constructor as { buildProcessLabel?: () => string; name: string };
  return typeof cls.buildProcessLabel === 'function' ? cls.buildProcessLabel() : cls.name;
}

/**
 * Kills the processes this one called (aiida's `Process.kill`): those running in this JS process at once, the
 * others through the process controller (RPC by pk). Failures are logged.
 */
export function killChildren(
  provenance: ProcessProvenance,
  message: string,
  forceKill: boolean,
): Promise<void> {
  const live = [...provenance.children];
  for (const child of live) {
    if (!child.hasTerminated()) child.kill(message);
  }
  const node = provenance.node;
  if (!node.isStored) return Promise.resolve();
  const remote = async (): Promise<void> => {
    const called = await node.getCalled();
    const livePks = new Set(live.map((child) => (child as { pk?: number | null }).pk));
    for (const child of called) {
      if (child.isTerminated || livePks.has(child.pk)) continue;
      try {
        await provenance.runner.controller.killProcess(child.pk!, { message, forceKill });
      } catch (error) {
        getLogger('aiida').info(
          { err: error, pk: child.pk },
          `the kill signal could not reach child<${String(child.pk)}>`,
        );
      }
    }
  };
  return remote().catch((error: unknown) =>
    getLogger('aiida').error({ err: error, pk: node.pk }, 'could not kill the children'),
  );
}

function namespaceList(namespace: string | undefined, agglomerate: boolean): (string | null)[] {
  if (!agglomerate) return [namespace ?? null];
  const list: (string | null)[] = [null];
  if (namespace !== undefined) {
    const parts = namespace.split('.');
    for (let i = 1; i <= parts.length; i += 1) list.push(parts.slice(0, i).join('.'));
  }
  return list;
}

/** Options of `exposedInputs` and `exposedOutputs`. */
export interface ExposedOptions {
  /** The namespace the ports were exposed in. */
  readonly namespace?: string;
  /** Also gather from the enclosing namespaces; lower ones win (default true, as in aiida). */
  readonly agglomerate?: boolean;
}

/** The inputs of `process` exposed from `processClass` (aiida's `exposed_inputs`), ready to launch it with. */
export function exposedInputsOf(
  spec: ProcessSpec<SpecTypes>,
  inputs: Readonly<Record<string, unknown>>,
  processClass: ProcessClass,
  options: ExposedOptions,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const sub of namespaceList(options.namespace, options.agglomerate ?? true)) {
    let values: unknown = inputs;
    let ports: PortNamespace = spec.inputs;
    if (sub !== null) {
      for (const part of sub.split('.')) values = isPlainObject(values) ? values[part] : undefined;
      const port = spec.inputs.findPort(sub);
      if (!(port instanceof PortNamespace)) {
        throw new NotExistentError(`this process does not contain the "${sub}" input namespace`);
      }
      ports = port;
    }
    const exposed = spec.exposedInputs.get(sub)?.get(processClass) ?? [];
    if (!isPlainObject(values)) continue;
    for (const name of ports.keys()) {
      if (values[name] !== undefined && exposed.includes(name)) out[name] = values[name];
    }
  }
  return out;
}

/**
 * The outputs of `node` that `spec` exposes from `processClass` (aiida's `exposed_outputs`): by the dotted names they
 * have in this process's outputs, ready for `outMany`.
 */
export async function exposedOutputsOf(
  spec: ProcessSpec<SpecTypes>,
  node: ProcessNode,
  processClass: ProcessClass,
  options: ExposedOptions,
): Promise<Record<string, unknown>> {
  const links = await node.base.links.getOutgoing({ linkType: [LinkType.CREATE, LinkType.RETURN] });
  const nested = nestByLabel(links.all().map((link) => [link.linkLabel, link.node] as const));
  const namespace = options.namespace;
  if (namespace !== undefined && !spec.exposedOutputs.has(namespace)) {
    throw new NotExistentError(`the namespace \`${namespace}\` is not an exposed namespace.`);
  }
  const target = new Map<string, string | null>();
  for (const sub of namespaceList(namespace, options.agglomerate ?? true)) {
    const exposed = spec.exposedOutputs.get(sub)?.get(processClass) ?? [];
    for (const top of Object.keys(nested)) if (exposed.includes(top)) target.set(top, sub);
  }
  const out: Record<string, unknown> = {};
  for (const [top, sub] of target) out[sub === null ? top : `${sub}.${top}`] = nested[top];
  return out;
}

/** `{label: node}` of the outputs recorded on a finished node, nested by namespace. */
export async function outputsOfNode(node: ProcessNode): Promise<Record<string, unknown>> {
  const links = await node.base.links.getOutgoing({ linkType: [LinkType.CREATE, LinkType.RETURN] });
  return nestByLabel(links.all().map((link) => [link.linkLabel, link.node] as const));
}

/** Link labels to output port paths (`inner__sum` → `inner.sum`). */
export function labelToPath(label: string): string {
  return label.split(PORT_NAMESPACE_SEPARATOR).join('.');
}

/** The terminal state of a node as the engine reads it. */
export function isTerminalNode(node: ProcessNode): boolean {
  const state = node.processState;
  return state !== null && TERMINAL.has(state);
}
