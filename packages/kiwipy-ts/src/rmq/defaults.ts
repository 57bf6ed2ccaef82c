/**
 * Names and limits of the RabbitMQ topology, chosen so that a broker shared with AiiDA (Python) reads the
 * same: `<prefix>.messages`, `<prefix>.tasks`, `<prefix>.process.queue`, `[rpc].<id>`, `[broadcast]`.
 */

/** The prefix kiwipy uses when none is given; AiiDA uses `aiida-<profile uuid>`. */
export const DEFAULT_PREFIX = 'kiwipy';

/** The broker AiiDA and kiwipy connect to by default. */
export const DEFAULT_URL = 'amqp://guest:guest@127.0.0.1:5672/';

/** Topic of RPC routing keys: a message for subscriber `id` is routed with `[rpc].<id>`. */
export const RPC_TOPIC = '[rpc]';
/** Routing key of every broadcast. */
export const BROADCAST_TOPIC = '[broadcast]';

const SECOND = 1000;

/** TTL of RPC and broadcast messages (kiwipy keeps it above 65 535 ms for an old broker bug). */
export const MESSAGE_TTL = 66 * SECOND;
/** How long an RPC or reply queue outlives its last consumer. */
export const QUEUE_EXPIRES = 60 * SECOND;
/** How long a reply queue outlives its connection, so replies sent during a reconnection wait for us. */
export const REPLY_QUEUE_EXPIRES = 60 * SECOND;
/** A task that nobody takes for a week is dropped by the broker (kiwipy's `TASK_MESSAGE_TTL`). */
export const TASK_MESSAGE_TTL = 7 * 24 * 60 * 60 * SECOND;
/** In testing mode task queues vanish this long after their last consumer. */
export const TEST_QUEUE_EXPIRES = 10 * SECOND;
/** How long `next()` on a task queue waits for a task by default (kiwipy's `TASK_FETCH_TIMEOUT`). */
export const TASK_FETCH_TIMEOUT = 5 * SECOND;
/** How long one step of `for await (const task of queue)` waits before the iteration ends. */
export const TASK_ITERATE_TIMEOUT = 1 * SECOND;
/** AiiDA's broker URL asks for a 600 s heartbeat; kiwipy-ts defaults to a minute to notice dead peers sooner. */
export const DEFAULT_HEARTBEAT_SECONDS = 60;

/** The names derived from one prefix. */
export interface TopologyNames {
  readonly messageExchange: string;
  readonly taskExchange: string;
  readonly taskQueue: string;
  readonly deadLetterExchange: string;
  readonly deadLetterQueue: string;
}

/** The exchange and queue names for `prefix`, as AiiDA names them for a profile. */
export function topologyNames(prefix: string): TopologyNames {
  return {
    messageExchange: `${prefix}.messages`,
    taskExchange: `${prefix}.tasks`,
    taskQueue: `${prefix}.process.queue`,
    deadLetterExchange: `${prefix}.tasks.dead-letter`,
    deadLetterQueue: `${prefix}.tasks.dead-letter`,
  };
}

/** The routing key of RPCs for subscriber `identifier`. */
export function rpcRoutingKey(identifier: string): string {
  return `${RPC_TOPIC}.${identifier}`;
}
