import { z } from 'zod';
import { MissingEntryPointError, ValidationError } from '../../../errors.js';
import type { Node } from '../../../orm/nodes/node.js';
import type { CalcJobNode } from '../../../orm/nodes/process/calcjob.js';
import type { Transport } from '../../../transports/transport.js';
import { alwaysKill } from '../../../calculations/monitors/base.js';
import { getLogger } from '../../logging.js';

/** What the engine does after a monitor returned a result (aiida's `CalcJobMonitorAction`). */
export const CalcJobMonitorAction = {
  /** Kill the job; no other monitor is called. */
  KILL: 'kill',
  /** Call no monitor any more for this job. */
  DISABLE_ALL: 'disable-all',
  /** Call this monitor no more. */
  DISABLE_SELF: 'disable-self',
} as const;
export type CalcJobMonitorAction = (typeof CalcJobMonitorAction)[keyof typeof CalcJobMonitorAction];

/** The result of a monitor (aiida's `CalcJobMonitorResult`); checked by {@link calcJobMonitorResult}. */
export const calcJobMonitorResultSchema = z
  .strictObject({
    /** The monitor's key in the `monitors` inputs (set by the engine). */
    key: z.string().nullable().default(null),
    /** A human readable message. */
    message: z.string().nullable().default(null),
    action: z.enum(['kill', 'disable-all', 'disable-self']).default('kill'),
    /** False: the output files are not retrieved. */
    retrieve: z.boolean().default(true),
    /** False: the retrieved files are not parsed. */
    parse: z.boolean().default(true),
    /** False: the parser's exit code is kept instead of `STOPPED_BY_MONITOR`. */
    overrideExitCode: z.boolean().default(true),
  })
  .refine((result) => result.retrieve || !result.parse, {
    message: '`parse` cannot be `True` if `retrieve` is `False`.',
  });
export type CalcJobMonitorResult = z.output<typeof calcJobMonitorResultSchema> & {
  /** Output nodes to attach to the job (by link label); not kept in checkpoints. */
  readonly outputs?: Readonly<Record<string, Node>>;
};
export type CalcJobMonitorResultInput = z.input<typeof calcJobMonitorResultSchema> & {
  readonly outputs?: Readonly<Record<string, Node>>;
};

/** A checked monitor result; `ValidationError` naming the bad fields. */
export function calcJobMonitorResult(input: CalcJobMonitorResultInput): CalcJobMonitorResult {
  const { outputs, ...rest } = input;
  const parsed = calcJobMonitorResultSchema.safeParse(rest);
  if (!parsed.success) {
    throw new ValidationError(
      'invalid monitor result',
      parsed.error.issues.map((issue) => ({
        path: issue.path.map(String).join('.'),
        message: issue.message,
      })),
    );
  }
  return outputs === undefined ? parsed.data : { ...parsed.data, outputs };
}

/**
 * A monitor: called with the job's node, an open transport to its computer and the monitor's keyword arguments while
 * the job is with the scheduler. It returns nothing to let the job go on, a message to kill it, or a full result.
 */
export type CalcJobMonitorFunction = (
  node: CalcJobNode,
  transport: Transport,
  kwargs: Readonly<Record<string, unknown>>,
) =>
  | Promise<string | CalcJobMonitorResultInput | null | undefined | void>
  | string
  | CalcJobMonitorResultInput
  | null
  | undefined
  | void;

/** A monitor as registered under an `aiida.calculations.monitors` entry point. */
export interface MonitorPlugin {
  readonly monitor: CalcJobMonitorFunction;
  /** The keyword arguments the monitor accepts (aiida reads them from the function's signature). */
  readonly kwargs?: readonly string[];
}

// aiida-core's monitor (entry point `core.always_kill`).
const monitors = new Map<string, MonitorPlugin>([['core.always_kill', { monitor: alwaysKill, kwargs: [] }]]);

/** Registers a monitor under an entry point name of the `aiida.calculations.monitors` group. */
export function registerMonitor(
  name: string,
  plugin: MonitorPlugin,
  options: { replace?: boolean } = {},
): void {
  if (monitors.has(name) && options.replace !== true)
    throw new ValidationError(`the monitor entry point \`${name}\` is already registered`);
  monitors.set(name, plugin);
}

/** The monitor registered as `name`; `MissingEntryPointError` otherwise. */
export function loadMonitor(name: string): MonitorPlugin {
  const plugin = monitors.get(name);
  if (plugin === undefined)
    throw new MissingEntryPointError(
      `Entry point '${name}' not found in group 'aiida.calculations.monitors'`,
    );
  return plugin;
}

/** The settings of one monitor as given in a `monitors` input `Dict` (aiida's `CalcJobMonitor`). */
export const calcJobMonitorSchema = z.strictObject({
  entry_point: z.string({ error: 'the monitor needs an `entry_point` string' }),
  kwargs: z.record(z.string(), z.unknown()).default({}),
  priority: z.number().int().default(0),
  minimum_poll_interval: z
    .number()
    .int()
    .positive({ message: 'The `minimum_poll_interval` must be a positive integer greater than zero.' })
    .nullable()
    .default(null),
  disabled: z.boolean().default(false),
});
export type CalcJobMonitor = z.output<typeof calcJobMonitorSchema>;

/** Checks the settings of a monitor: fields, entry point and keyword arguments; throws a `ValidationError`. */
export function validateMonitor(settings: unknown): CalcJobMonitor {
  const parsed = calcJobMonitorSchema.safeParse(settings);
  if (!parsed.success) {
    throw new ValidationError(
      'invalid monitor',
      parsed.error.issues.map((issue) => ({
        path: issue.path.map(String).join('.'),
        message: issue.message,
      })),
    );
  }
  const plugin = loadMonitor(parsed.data.entry_point);
  const accepted = plugin.kwargs ?? [];
  const unsupported = Object.keys(parsed.data.kwargs).filter((key) => !accepted.includes(key));
  if (unsupported.length > 0) {
    throw new ValidationError(
      `The monitor \`${parsed.data.entry_point}\` does not accept the keywords: ${JSON.stringify(unsupported)}.`,
    );
  }
  return parsed.data;
}

/** What the engine remembers of each monitor between polls (kept in the checkpoint). */
export const monitorStateSchema = z.record(
  z.string(),
  z.object({ callTimestamp: z.number().nullable(), disabled: z.boolean() }),
);
export type MonitorState = z.infer<typeof monitorStateSchema>;

/**
 * The monitors of one job (aiida's `CalcJobMonitors`): ordered by priority (high first), then by key; `process` calls
 * them in order and returns the first result. When each was last called and which are disabled is kept in `state`, which
 * the job keeps in its checkpoint.
 */
export class CalcJobMonitors {
  readonly monitors: ReadonlyMap<string, CalcJobMonitor>;
  readonly state: MonitorState;

  constructor(settings: Readonly<Record<string, unknown>>, state: MonitorState = {}) {
    const entries = Object.entries(settings).map(([key, value]) => [key, validateMonitor(value)] as const);
    entries.sort(([ka, a], [kb, b]) => b.priority - a.priority || (ka < kb ? -1 : ka > kb ? 1 : 0));
    this.monitors = new Map(entries);
    this.state = {};
    for (const [key, monitor] of entries) {
      this.state[key] = state[key] ?? { callTimestamp: null, disabled: monitor.disabled };
    }
  }

  /** Marks a monitor as disabled (action `disable-self`). */
  disable(key: string): void {
    const entry = this.state[key];
    if (entry !== undefined) entry.disabled = true;
  }

  /** Calls the monitors in order; the first that returns something decides. */
  async process(node: CalcJobNode, transport: Transport): Promise<CalcJobMonitorResult | null> {
    for (const [key, monitor] of this.monitors) {
      const state = this.state[key]!;
      if (state.disabled) continue;
      const interval = monitor.minimum_poll_interval;
      if (
        interval !== null &&
        state.callTimestamp !== null &&
        Date.now() - state.callTimestamp < interval * 1000
      )
        continue;
      state.callTimestamp = Date.now();
      const returned = await loadMonitor(monitor.entry_point).monitor(node, transport, monitor.kwargs);
      if (returned === undefined || returned === null || returned === '') continue;
      const result = calcJobMonitorResult(typeof returned === 'string' ? { message: returned } : returned);
      const keyed = { ...result, key };
      getLogger('aiida').info(
        { pk: node.pk, monitor: key },
        `monitor \`${key}\` returned: ${keyed.message ?? ''}`,
      );
      return keyed;
    }
    return null;
  }
}
