/**
 * The daemon's process management: a supervisor that keeps the workers of one profile running (restarting crashed
 * ones with backoff), its pid file and control socket, and the client `verdi daemon` uses.
 */
export { daemonPaths, type DaemonPaths } from './paths.js';
export { readPidFile, type PidFile, type PidFileState } from './pid-file.js';
export {
  callSupervisor,
  type StopReport,
  type StoppedWorker,
  type SupervisedWorker,
  type SupervisorStatus,
} from './protocol.js';
export { Supervisor, type SupervisorOptions, type WorkerCommand } from './supervisor.js';
export { RotatingLogFile, type RotationOptions } from './log-file.js';
export { DaemonClient, tailOf, type StartDaemonOptions, type StopOutcome } from './client.js';
export { repairProcesses, type RepairFinding, type RepairOptions } from './repair.js';
export { watchProcesses, type WatchEvent, type WatchOptions } from './watch.js';
