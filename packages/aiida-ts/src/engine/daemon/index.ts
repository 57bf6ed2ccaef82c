/**
 * The daemon core: workers that claim processes from the profile's storage (and a broker when there is one), leases
 * fenced by epoch on every write, parking of waiting processes, takeover of dead workers' processes, control
 * requests, ownership queries, repair and watch. The contract for the `verdi daemon`/`verdi process` commands is
 * `/work/status/daemon-api.md`.
 */
export {
  runDaemonWorker,
  startDaemonWorker,
  type DaemonWorkerHandle,
  type DaemonWorkerOptions,
} from './entry.js';
export { DaemonWorker, type WorkerExit, type WorkerSettings, type WorkerStats } from './worker.js';
export { RunnerOwnership, type RunnerOwnershipOptions } from './runner-ownership.js';
export { listWorkers, type WorkerInfo, type ListWorkersOptions } from './worker-registry.js';
export { ControlIntent, type ControlRequest } from './control-table.js';
export { PARK_UNTIL, type ParkableProcess, type ParkCondition } from './park.js';
export { requestControl, awaitControl, type ControlOptions, type AwaitControlOptions } from './control.js';
export {
  ownershipOf,
  slotUsage,
  type Ownership,
  type OwnershipOptions,
  type SlotUsage,
} from './ownership.js';
