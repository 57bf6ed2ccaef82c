import { z } from 'zod';
import { type Codec, jsonCodec } from '../codec.js';
import { ValidationError } from '../errors.js';
import { type Logger, stderrLogger } from '../logger.js';
import { toIssues } from '../channels.js';
import { DEFAULT_HEARTBEAT_SECONDS, DEFAULT_PREFIX, DEFAULT_URL, topologyNames } from './defaults.js';

const codecSchema = z.custom<Codec>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Codec).encode === 'function' &&
    typeof (value as Codec).decode === 'function' &&
    ['string', 'undefined'].includes(typeof (value as Codec).contentType),
  { message: 'expected a codec with contentType, encode() and decode()' },
);

const loggerSchema = z.custom<Logger>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    ['debug', 'info', 'warn', 'error'].every(
      (level) => typeof (value as Record<string, unknown>)[level] === 'function',
    ),
  { message: 'expected a logger with debug(), info(), warn() and error()' },
);

const milliseconds = z.number().int().nonnegative();

/** How the communicator gets its connection back after losing it. */
export const reconnectOptionsSchema = z.object({
  /** Reconnect at all; when false a lost connection fails every pending request at once. */
  enabled: z.boolean().default(true),
  /** Delay before the first reconnection attempt (ms). */
  initialDelay: milliseconds.default(100),
  /** Longest delay between two attempts (ms). */
  maxDelay: milliseconds.default(5_000),
  /** Growth of the delay from one attempt to the next. */
  factor: z.number().min(1).default(2),
  /**
   * How long requests wait for the connection to come back (ms): pending RPCs and tasks, and sends made
   * while disconnected, reject with `ConnectionLostError` when it has not come back in this time.
   */
  timeout: milliseconds.default(30_000),
  /** Attempts before the communicator gives up for good (default: never). */
  maxAttempts: z.number().int().positive().default(Number.POSITIVE_INFINITY),
});

/** Options of {@link connect}; every field is optional. */
export const rmqConnectOptionsSchema = z.object({
  /** `amqp://user:password@host:port/vhost`; a `heartbeat` query parameter wins over `heartbeat`. */
  url: z
    .string()
    .default(DEFAULT_URL)
    .refine((url) => /^amqps?:\/\//.test(url), { message: 'must be an amqp:// or amqps:// URL' }),
  /** Names everything on the broker: `<prefix>.messages`, `<prefix>.tasks`, `<prefix>.process.queue`. */
  prefix: z.string().min(1).default(DEFAULT_PREFIX),
  /** Overrides `<prefix>.messages`. */
  messageExchange: z.string().min(1).optional(),
  /** Overrides `<prefix>.tasks`. */
  taskExchange: z.string().min(1).optional(),
  /** Overrides `<prefix>.process.queue`, the default task queue. */
  taskQueue: z.string().min(1).optional(),
  /** Most unacknowledged tasks one consumer holds at once; 0 means no limit (AiiDA: worker slots). */
  taskPrefetchCount: z.number().int().nonnegative().default(0),
  /** Heartbeat interval in seconds; 0 disables heartbeats. */
  heartbeat: z.number().int().nonnegative().default(DEFAULT_HEARTBEAT_SECONDS),
  /** How long one connection attempt may take (ms). */
  connectTimeout: milliseconds.default(10_000),
  /** How long `close()` waits for the broker's goodbye before dropping the socket (ms). */
  closeTimeout: milliseconds.default(2_000),
  /**
   * `x-consumer-timeout` set on task queues when the broker supports it per queue (3.12+), in ms; null
   * leaves the broker's global `consumer_timeout` in force. Long tasks are the reason (aiida-core #5105).
   * Off by default: kiwipy declares the task queue with `x-message-ttl` alone, and a queue declared with
   * other arguments makes the other side's declaration fail with PRECONDITION_FAILED.
   */
  consumerTimeout: milliseconds.nullable().default(null),
  /**
   * What an `exception` reply says: `message` is the error's message alone, as kiwipy sends `str(exc)`
   * (needed beside Python AiiDA); `stack` adds the error's name and stack frames for a TypeScript peer.
   */
  errorReplies: z.enum(['message', 'stack']).default('stack'),
  /** Turns message bodies into bytes; JSON by default. */
  codec: codecSchema.default(jsonCodec),
  logger: loggerSchema.default(stderrLogger),
  /** kiwipy's testing mode: auto-deleted exchanges, non-durable task queues that expire when unused. */
  testingMode: z.boolean().default(false),
  /** Shown as the connection's name in the broker's management tools. */
  connectionName: z.string().optional(),
  reconnect: reconnectOptionsSchema.default(reconnectOptionsSchema.parse({})),
});

/** What {@link connect} accepts. */
export type RmqConnectOptions = z.input<typeof rmqConnectOptionsSchema>;
export type ReconnectOptions = z.output<typeof reconnectOptionsSchema>;

/** Options with every default filled in and every name resolved. */
export type ResolvedRmqOptions = z.output<typeof rmqConnectOptionsSchema> & {
  readonly messageExchange: string;
  readonly taskExchange: string;
  readonly taskQueue: string;
  readonly deadLetterExchange: string;
  readonly deadLetterQueue: string;
};

/** Validates options; a bad value throws a {@link ValidationError} that names every failing path. */
export function resolveOptions(options: RmqConnectOptions = {}): ResolvedRmqOptions {
  const parsed = rmqConnectOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError('RmqCommunicator options', toIssues(parsed.error));
  const names = topologyNames(parsed.data.prefix);
  return {
    ...parsed.data,
    messageExchange: parsed.data.messageExchange ?? names.messageExchange,
    taskExchange: parsed.data.taskExchange ?? names.taskExchange,
    taskQueue: parsed.data.taskQueue ?? names.taskQueue,
    deadLetterExchange: names.deadLetterExchange,
    deadLetterQueue: names.deadLetterQueue,
  };
}

/** The URL amqplib connects to: the heartbeat added unless the URL sets it already. */
export function connectionUrl(options: ResolvedRmqOptions): string {
  const url = new URL(options.url);
  if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(options.heartbeat));
  return url.toString();
}

/** The URL with its password hidden, for logs and errors. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return '<invalid url>';
  }
}
