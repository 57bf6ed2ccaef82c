import { z } from 'zod';
import { jsonValueSchema } from './values.js';

/** Keys of process control messages, exactly as plumpy puts them on the wire. */
export const INTENT_KEY = 'intent';
export const MESSAGE_TEXT_KEY = 'message';
export const FORCE_KILL_KEY = 'force_kill';

/** What a control message asks of a process; also the broadcast subjects of `pauseAll`/`playAll`/`killAll`. */
export const Intent = {
  PLAY: 'play',
  PAUSE: 'pause',
  KILL: 'kill',
  STATUS: 'status',
} as const;
export type Intent = (typeof Intent)[keyof typeof Intent];

/** Process identifiers: plumpy uses a UUID by default, aiida the node's integer pk. */
export type Pid = string | number;
export const pidSchema = z.union([z.string().min(1), z.number().int()]);

/** A control message (plumpy's `MessageType`). */
export interface ControlMessage {
  readonly intent: Intent;
  readonly message: string | null;
  readonly force_kill?: boolean;
}

/** The message of a kill, as kept by a killed process. */
export interface KillMessage {
  readonly intent: 'kill';
  readonly message: string | null;
  readonly force_kill: boolean;
}

/** Builds the control messages plumpy's `MessageBuilder` builds, key for key. */
export const MessageBuilder = {
  play(text: string | null = null): ControlMessage {
    return { intent: Intent.PLAY, message: text };
  },
  pause(text: string | null = null): ControlMessage {
    return { intent: Intent.PAUSE, message: text };
  },
  kill(text: string | null = null, forceKill = false): KillMessage {
    return { intent: Intent.KILL, message: text, force_kill: forceKill };
  },
  status(text: string | null = null): ControlMessage {
    return { intent: Intent.STATUS, message: text };
  },
} as const;

/**
 * A control message as received: `intent` must be a string (an unknown one is answered with an error), the
 * text and force flag are optional, as plumpy reads them with defaults.
 */
export const controlMessageSchema = z.looseObject({
  intent: z.string(),
  message: z.string().nullable().optional(),
  force_kill: z.boolean().optional(),
});

export const killMessageSchema = z.object({
  intent: z.literal('kill'),
  message: z.string().nullable(),
  force_kill: z.boolean(),
});

/** The reply to a `status` intent (plumpy's `get_status_info`). */
export const statusInfoSchema = z.looseObject({
  ctime: z.number().nullable(),
  paused: z.boolean(),
  process_string: z.string(),
  state: z.string(),
});
export type StatusInfo = z.infer<typeof statusInfoSchema>;

/** Task body keys and task types, exactly as plumpy's process launcher expects them. */
export const TASK_KEY = 'task';
export const TASK_ARGS = 'args';
export const PERSIST_KEY = 'persist';
export const PROCESS_CLASS_KEY = 'process_class';
export const ARGS_KEY = 'init_args';
export const KWARGS_KEY = 'init_kwargs';
export const NOWAIT_KEY = 'nowait';
export const PID_KEY = 'pid';
export const TAG_KEY = 'tag';
export const TaskType = { LAUNCH: 'launch', CONTINUE: 'continue', CREATE: 'create' } as const;
export type TaskType = (typeof TaskType)[keyof typeof TaskType];

const initArgs = z.array(jsonValueSchema).nullable().optional();
const initKwargs = z.record(z.string(), z.unknown()).nullable().optional();

export const launchTaskSchema = z.object({
  task: z.literal(TaskType.LAUNCH),
  args: z.object({
    process_class: z.string().min(1),
    persist: z.boolean().default(false),
    nowait: z.boolean().default(true),
    init_args: initArgs,
    init_kwargs: initKwargs,
  }),
});
export const continueTaskSchema = z.object({
  task: z.literal(TaskType.CONTINUE),
  args: z.object({
    pid: pidSchema,
    nowait: z.boolean().default(false),
    tag: z.string().nullable().optional(),
  }),
});
export const createTaskSchema = z.object({
  task: z.literal(TaskType.CREATE),
  args: z.object({
    process_class: z.string().min(1),
    persist: z.boolean().default(false),
    init_args: initArgs,
    init_kwargs: initKwargs,
  }),
});
/** Any task body the launcher accepts. */
export const processTaskSchema = z.discriminatedUnion('task', [
  launchTaskSchema,
  continueTaskSchema,
  createTaskSchema,
]);
export type LaunchTask = z.input<typeof launchTaskSchema>;
export type ContinueTask = z.input<typeof continueTaskSchema>;
export type CreateTask = z.input<typeof createTaskSchema>;

/** Options of {@link createLaunchBody}. */
export interface LaunchBodyOptions {
  readonly initArgs?: readonly unknown[] | null;
  readonly initKwargs?: Readonly<Record<string, unknown>> | null;
  readonly persist?: boolean;
  readonly nowait?: boolean;
}

/** `{task: 'launch', args: {process_class, persist, nowait, init_args, init_kwargs}}` (plumpy's defaults: nowait). */
export function createLaunchBody(processClass: string, options: LaunchBodyOptions = {}): LaunchTask {
  return {
    task: TaskType.LAUNCH,
    args: {
      process_class: processClass,
      persist: options.persist ?? false,
      nowait: options.nowait ?? true,
      init_args: (options.initArgs ?? null) as LaunchTask['args']['init_args'],
      init_kwargs: options.initKwargs ?? null,
    },
  };
}

/** `{task: 'continue', args: {pid, nowait, tag}}`. */
export function createContinueBody(
  pid: Pid,
  options: { readonly tag?: string | null; readonly nowait?: boolean } = {},
): ContinueTask {
  return {
    task: TaskType.CONTINUE,
    args: { pid, nowait: options.nowait ?? false, tag: options.tag ?? null },
  };
}

/** `{task: 'create', args: {process_class, persist, init_args, init_kwargs}}`. */
export function createCreateBody(
  processClass: string,
  options: Omit<LaunchBodyOptions, 'nowait'> = {},
): CreateTask {
  return {
    task: TaskType.CREATE,
    args: {
      process_class: processClass,
      persist: options.persist ?? false,
      init_args: (options.initArgs ?? null) as CreateTask['args']['init_args'],
      init_kwargs: options.initKwargs ?? null,
    },
  };
}
