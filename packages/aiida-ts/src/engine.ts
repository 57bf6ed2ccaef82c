/**
 * `aiida-ts/engine`: processes that record their provenance — process functions (`calcfunction`, `workfunction`),
 * `Process`, `WorkChain` and `BaseRestartWorkChain` — and how to launch them (`run`, `runGetNode`, `runGetPk`,
 * `submit`, builders), wait for them (`ProcessFuture`, `awaitProcesses`), cache them and log from them, and
 * coordinate limits across OS processes (`getCoordinator`: throttles, shared polls, job slots).
 */
export {
  ExitCode,
  ToContext,
  if_,
  while_,
  return_,
  KilledError,
  type ExitCodeOptions,
  type InputsOf,
  type ProcessOutputsOf,
  type SpecOf,
} from 'plumpy-ts';
export {
  DEFAULT_CALL_LINK_LABEL,
  METADATA_KEY,
  SINGLE_OUTPUT_LINKNAME,
  defineProcessBase,
  type ProcessMetadata,
} from './engine/processes/base-spec.js';
export {
  anyData,
  isNonDb,
  nodeClassesOf,
  nodeType,
  nonDb,
  type NodeClassLike,
  type NodeSchema,
  type NodeTypeOptions,
  type RawValueOf,
} from './engine/processes/ports.js';
export { Process, defaultProcessType, definitionOf } from './engine/processes/process.js';
export { WorkChain } from './engine/processes/workchains/workchain.js';
export { append_, assign_, type NodeOf, type ProcessNodeOf } from './engine/processes/workchains/context.js';
export {
  BaseRestartWorkChain,
  ProcessHandlerReport,
  type ProcessHandler,
  type ProcessHandlerOptions,
  type RestartContext,
} from './engine/processes/workchains/restart.js';
export {
  FunctionProcess,
  calcfunction,
  isProcessFunction,
  workfunction,
  type DeclIn,
  type DeclOut,
  type FunctionArguments,
  type FunctionInputs,
  type FunctionResult,
  type InputDecl,
  type InputDeclOptions,
  type OutputDecl,
  type PortDecl,
  type ProcessFunction,
  type ProcessFunctionOptions,
  type VariadicDecl,
} from './engine/processes/functions.js';
export {
  createBuilder,
  getBuilderRestart,
  type BuilderNamespace,
  type BuilderNamespaceMethods,
  type ProcessBuilder,
} from './engine/processes/builder.js';
export { getCodeBuilder } from './engine/processes/code-builder.js';
export type { ExposedOptions } from './engine/processes/engine-hooks.js';
export {
  currentEngineProcess,
  instantiateProcess,
  parseProcessInputs,
  type EngineProcessClass,
  type EngineProcessInstance,
  type InstantiateOptions,
} from './engine/processes/instantiate.js';
export {
  ProcessClassRegistry,
  processClassRegistry,
  type SourceLocation,
} from './engine/processes/process-type.js';
export { Runner, type RunResult, type RunnerOptions } from './engine/runner.js';
export { Manager, getManager, brokerUrlOf, type ManagerOptions } from './engine/manager.js';
export {
  awaitProcesses,
  run,
  runGetNode,
  runGetPk,
  submit,
  type AwaitProcessesOptions,
  type SubmitOptions,
} from './engine/launch.js';
export { ProcessFuture, type ProcessFutureOptions } from './engine/futures.js';
export { AiidaPersister } from './engine/persistence.js';
export { AiidaProcessLauncher, type ContinueResult } from './engine/launcher.js';
export {
  CACHED_FROM_KEY,
  HASH_EXTRA_KEY,
  VALID_CACHE_KEY,
  computeNodeHash,
  nodeHash,
  objectsToHash,
  pythonClassPath,
  rehashNode,
} from './engine/caching/hash.js';
export {
  cachingOptions,
  disableCaching,
  enableCaching,
  getUseCache,
  type CachingScopeOptions,
} from './engine/caching/config.js';
export {
  LOG_FORMAT_ENV,
  LOGGER_OPTIONS,
  LogFormat,
  configureLogging,
  formatLogRecord,
  getLogFormat,
  getLogger,
  parseLogFormat,
  setLogFormat,
  setLogSink,
  type EngineLogger,
  type EngineLoggerName,
  type FormatLogRecordOptions,
} from './engine/logging.js';
export {
  CoordinatorOptionsSchema,
  createCoordinator,
  getCoordinator,
  type AcquireSlotsOptions,
  type Coordinator,
  type CoordinatorOptions,
  type SharedPollOptions,
  type SharedPollResult,
  type SlotGrant,
  type SlotRequestInfo,
  type SlotUsage,
  type ThrottleOptions,
} from './engine/coordination/coordinator.js';
export { planGrants, type GrantPlan, type WaitingRequest } from './engine/coordination/grant-plan.js';
export { CalcJob, getDryRunInfo, type DryRunInfo } from './engine/processes/calcjobs/calcjob.js';
export { defineCalcJob, type CalcJobOptions } from './engine/processes/calcjobs/calcjob-spec.js';
export {
  COMPRESS_STASH_MODES,
  DEFAULT_FILE_COPY_OPERATION_ORDER,
  FileCopyOperation,
  StashMode,
  UnstashTargetMode,
  calcInfoSchema,
  codeInfoSchema,
  parseCalcInfo,
  retrieveListItemSchema,
  type CalcInfo,
  type CalcInfoInput,
  type CodeInfo,
  type CodeInfoInput,
  type RetrieveListItem,
} from './engine/processes/calcjobs/calc-info.js';
export { Folder, SandboxFolder } from './engine/processes/calcjobs/folder.js';
export {
  CalcJobMonitorAction,
  CalcJobMonitors,
  calcJobMonitorResult,
  loadMonitor,
  registerMonitor,
  validateMonitor,
  type CalcJobMonitor,
  type CalcJobMonitorFunction,
  type CalcJobMonitorResult,
  type CalcJobMonitorResultInput,
  type MonitorPlugin,
} from './engine/processes/calcjobs/monitors.js';
export { CalcJobCommand, CalcJobWaiting } from './engine/processes/calcjobs/waiting.js';
export {
  exponentialBackoffRetry,
  interruptible,
  type BackoffOptions,
} from './engine/processes/calcjobs/backoff.js';
export {
  InProcessCoordinator,
  computerPool,
  jobCoordinatorFor,
  setJobCoordinatorProvider,
  type JobCoordinator,
} from './engine/processes/calcjobs/coordination.js';
export { TransportQueue, type TransportRequest } from './engine/processes/calcjobs/transport-queue.js';
export { JobManager } from './engine/processes/calcjobs/job-manager.js';
export { calcJobServices, type CalcJobServices } from './engine/processes/calcjobs/runner-services.js';
export { CalcJobImporter } from './engine/processes/calcjobs/importer.js';
export { Parser, type ParseResult, type ParserInputs } from './parsers/parser.js';
export { ParserFactory, registerParser, type ParserClass } from './parsers/registry.js';
export { ArithmeticAddParser, SimpleArithmeticAddParser } from './parsers/plugins/arithmetic-add.js';
export { TemplatereplacerParser } from './parsers/plugins/templatereplacer.js';
export { CalculationFactory, registerCalculation, type CalcJobClass } from './calculations/registry.js';
export { ArithmeticAddCalculation } from './calculations/arithmetic/add.js';
export { TemplatereplacerCalculation } from './calculations/templatereplacer.js';
export { TransferCalculation } from './calculations/transfer.js';
export { StashCalculation } from './calculations/stash.js';
export { UnstashCalculation } from './calculations/unstash.js';
export { ArithmeticAddCalculationImporter } from './calculations/importers/arithmetic-add.js';
export { addMultiply } from './workflows/arithmetic/add-multiply.js';
export { MultiplyAddWorkChain } from './workflows/arithmetic/multiply-add.js';
export { WorkflowFactory } from './workflows/registry.js';
export {
  EntryPointGroup,
  listEntryPoints,
  loadEntryPoint,
  registerEntryPoint,
} from './plugins/entry-points.js';
export {
  aiidaCodec,
  createAiidaCodec,
  readContinueResult,
  resolveAiidaEntity,
  type AiidaCodecOptions,
} from './engine/wire/aiida-codec.js';
export {
  dumpYaml,
  pythonFloatText,
  resolvePlainTag,
  YamlEncodeError,
  type DumpYamlOptions,
  type EntityResolver,
} from './engine/wire/pyyaml-emitter.js';
export { loadYaml, YamlDecodeError, type LoadYamlOptions } from './engine/wire/pyyaml-loader.js';
export {
  EntityRef,
  EntityTag,
  MappingTag,
  PyFloat,
  PyObjectApply,
  TaggedMapping,
  isPyTuple,
  pyTuple,
} from './engine/wire/yaml-values.js';
