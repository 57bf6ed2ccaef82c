/**
 * `aiida-ts/transports`: the {@link Transport} interface, its `core.local` and `core.ssh` implementations,
 * the pool that shares one open transport per computer, and the registry by entry point name.
 */
export type {
  CommandExit,
  CompressOptions,
  CopyFileOptions,
  CopyOptions,
  ExecCommandWaitOptions,
  ExecCommandWaitTextOptions,
  ExecOptions,
  ExecResult,
  ExecStdin,
  ExtractOptions,
  FileAttribute,
  FileTransferOptions,
  ListdirEntry,
  MakedirsOptions,
  RunningCommand,
  Transport,
  TransportPath,
  TransferOptions,
  TreeTransferOptions,
} from './transports/transport.js';
export { CompressionFormat } from './transports/transport.js';
export { escapeForBash, hasMagic } from './transports/escaping.js';
export { LocalTransport, type LocalTransportOptions } from './transports/local-transport.js';
export { BaseTransport, type BaseTransportOptions } from './transports/base-transport.js';
export {
  KeyPolicy,
  LocalAuthParams,
  SshAuthParams,
  type AuthOptionMeta,
  type LocalAuthParamsInput,
  type SshAuthParamsInput,
} from './transports/auth-params.js';
export { SshTransport, parseProxyJump, type SshTransportOptions } from './transports/ssh/ssh-transport.js';
export {
  appendKnownHost,
  formatKnownHostsLine,
  knownHostsName,
  loadKnownHosts,
  parseKnownHosts,
  verifyHostKey,
  type HostKeyVerdict,
  type KnownHostEntry,
} from './transports/ssh/known-hosts.js';
export {
  TransportPool,
  type RequestTransportOptions,
  type TransportFactory,
  type TransportKey,
  type TransportLease,
  type TransportPoolOptions,
} from './transports/transport-pool.js';
export {
  createTransport,
  getTransportAuthOptions,
  getTransportClass,
  registerTransport,
  transportEntryPoints,
  type CreateTransportOptions,
  type TransportAuthOption,
  type TransportPlugin,
} from './transports/registry.js';
export { fnmatch, filterNames } from './transports/fnmatch.js';
