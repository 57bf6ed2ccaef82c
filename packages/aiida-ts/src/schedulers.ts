/**
 * `aiida-ts/schedulers`: the {@link Scheduler} interface, the six plugins aiida ships (`core.direct`,
 * `core.slurm`, `core.pbspro`, `core.torque`, `core.sge`, `core.lsf`) built on one bash-command base, job
 * resources, templates and job info with aiida's rules and keys, and the registry by entry point name.
 */
export {
  BaseScheduler,
  SchedulerFeature,
  detailedJobInfoSchema,
  parseOutputDetailedJobInfoSchema,
  validateJobId,
  validateUser,
  type CommandOutput,
  type DetailedJobInfo,
  type GetJobsOptions,
  type Scheduler,
  type SchedulerOptions,
  type SchedulerTransport,
} from './schedulers/scheduler.js';
export { BashCliScheduler, shellUser, type JoblistQuery } from './schedulers/bash-cli-scheduler.js';
export { JobState, jobStateSchema } from './schedulers/job-state.js';
export {
  CalcJobSchedulerExitCodes,
  isSchedulerExitCode,
  type CalcJobSchedulerExitCodeLabel,
  type SchedulerExitCode,
} from './schedulers/exit-codes.js';
export {
  DirectJobResourceClass,
  LsfJobResourceClass,
  NodeNumberJobResourceClass,
  ParEnvJobResourceClass,
  PbsJobResourceClass,
  SgeJobResourceClass,
  SlurmJobResourceClass,
  getTotNumMpiprocs,
  jobResourceSchema,
  jobResourceToAiidaDict,
  lsfJobResourceSchema,
  nodeNumberJobResourceSchema,
  parEnvJobResourceSchema,
  preprocessResources,
  type JobResource,
  type JobResourceClass,
  type JobResourceInput,
  type LsfJobResource,
  type NodeNumberJobResource,
  type ParEnvJobResource,
} from './schedulers/job-resource.js';
export {
  CodeRunMode,
  buildJobTemplateCodeInfo,
  codeRunModeSchema,
  formatMpirunCommand,
  jobTemplateCodeInfoSchema,
  jobTemplateSchema,
  parseJobTemplate,
  type BuildCodeInfoOptions,
  type JobTemplate,
  type JobTemplateCodeInfo,
  type JobTemplateCodeInfoInput,
  type JobTemplateInput,
} from './schedulers/job-template.js';
export {
  aiidaDateSchema,
  aiidaJobInfoDictSchema,
  dateFromAiida,
  dateToAiida,
  jobInfoFromAiidaDict,
  jobInfoSchema,
  jobInfoToAiidaDict,
  loadJobInfo,
  machineInfoSchema,
  serializeJobInfo,
  type AiidaDate,
  type JobInfo,
  type MachineInfo,
} from './schedulers/job-info.js';
export { quoteForBash } from './schedulers/bash-quoting.js';
export { sanitizeJobName, type SanitizeJobNameOptions } from './schedulers/script-values.js';
export { DirectScheduler } from './schedulers/plugins/direct.js';
export {
  SlurmScheduler,
  SQUEUE_FIELDS,
  SQUEUE_SEPARATOR,
  parseSlurmKeyValues,
} from './schedulers/plugins/slurm.js';
export { PbsBaseScheduler, type PbsResourceRequest } from './schedulers/plugins/pbs-base.js';
export { PbsproScheduler } from './schedulers/plugins/pbspro.js';
export { TorqueScheduler } from './schedulers/plugins/torque.js';
export { SgeScheduler } from './schedulers/plugins/sge.js';
export { LsfScheduler, BJOBS_FIELDS } from './schedulers/plugins/lsf.js';
export {
  CORE_SCHEDULERS,
  listSchedulerEntryPoints,
  loadScheduler,
  registerScheduler,
  type CoreSchedulerEntryPoint,
  type SchedulerFactory,
} from './schedulers/registry.js';
