/**
 * `kiwipy-ts/rmq`: the RabbitMQ communicator, with kiwipy's topology and wire format.
 */
export { connect, RmqCommunicator } from './rmq/rmq-communicator.js';
export {
  rmqConnectOptionsSchema,
  reconnectOptionsSchema,
  resolveOptions,
  type RmqConnectOptions,
  type ReconnectOptions,
  type ResolvedRmqOptions,
} from './rmq/options.js';
export { RmqTaskQueue, type TaskQueueOptions, type NextTaskOptions } from './rmq/task-queue.js';
export { RmqIncomingTask, TaskState, type TaskOutcome } from './rmq/incoming-task.js';
export type {
  AffectedTask,
  RmqCommunicatorEvents,
  RmqCommunicatorEventName,
  RmqCommunicatorListener,
} from './rmq/events.js';
export { brokerInfo, isConsumerTimeout, parseVersion, type BrokerInfo } from './rmq/broker-info.js';
export type { ConnectionState } from './rmq/connection.js';
export {
  BROADCAST_TOPIC,
  DEFAULT_PREFIX,
  DEFAULT_URL,
  MESSAGE_TTL,
  QUEUE_EXPIRES,
  REPLY_QUEUE_EXPIRES,
  RPC_TOPIC,
  TASK_MESSAGE_TTL,
  TEST_QUEUE_EXPIRES,
  rpcRoutingKey,
  topologyNames,
  type TopologyNames,
} from './rmq/defaults.js';
export {
  ResponseKey,
  applyResponse,
  describeError,
  encodeBroadcast,
  encodeTaskBody,
  exceptionResponse,
  errorMessageOf,
  hostInfo,
  parseBroadcast,
  parseResponse,
  parseTaskBody,
  pendingResponse,
  remoteErrorFromText,
  resultResponse,
  cancelledResponse,
  type HostInfo,
  type Response,
  type TaskBody,
} from './rmq/messages.js';
export {
  messageProperties,
  shortUuid,
  type MessageKind,
  type MessagePropertiesOptions,
} from './rmq/properties.js';
