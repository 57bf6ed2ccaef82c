export * from './errors.js';
export type {
  BroadcastMessage,
  BroadcastSendOptions,
  BroadcastSubscriber,
  Communicator,
  RpcSubscriber,
  SubscriberContext,
  TaskSendOptions,
  TaskSubscriber,
} from './communicator.js';
export { Reply, deferred, isPromiseLike, type Deferred } from './reply.js';
export {
  BroadcastFilter,
  wildcardToRegExp,
  type BroadcastFilterOptions,
  type FilterValue,
} from './broadcast-filter.js';
export { LocalCommunicator, toRemoteError, type LocalCommunicatorOptions } from './local-communicator.js';
export { asTuple, isTuple, jsonCodec, withFloatKeys, floatKeysOf, type Codec } from './codec.js';
export { silentLogger, stderrLogger, type Logger } from './logger.js';
export {
  SubscriberSet,
  generateIdentifier,
  runTask,
  fireBroadcast,
  answerLater,
  LaterAnswer,
  type TaskOutcome,
} from './subscriber-registry.js';
export {
  defineRpc,
  defineTask,
  defineBroadcast,
  toIssues,
  type RpcDefinition,
  type TaskDefinition,
  type BroadcastDefinition,
} from './channels.js';
