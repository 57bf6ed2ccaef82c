/**
 * Private service instances for the tests and benchmarks of the aiida-ts packages. Each starter makes its
 * own throwaway instance in a temporary folder on free ports (the shared RabbitMQ and PostgreSQL are never
 * touched) and ends only the processes it started, by pid.
 *
 * @packageDocumentation
 */
export { ServiceError, ServiceMissingError, ServiceTimeoutError, isServiceError } from './errors.js';
export { freePort, freePorts } from './ports.js';
export { sleep, waitFor, type WaitForOptions } from './wait.js';
export {
  childPids,
  descendantPids,
  forgetOnExit,
  isAlive,
  killOnExit,
  parentPids,
  readPidFile,
  signal,
  terminate,
  type TerminateOptions,
} from './processes.js';
export { requireBinaries, run, systemUserWhenRoot, type SystemUser } from './system.js';
export { CLIENT_KEY_PASSPHRASE, SSHD_BINARY, startPrivateSshd, type PrivateSshd } from './sshd.js';
export { startPrivateSlurm, type PrivateSlurm, type PrivateSlurmOptions } from './slurm.js';
export { startPrivateSge, type PrivateSge } from './sge.js';
export { startPrivateBroker, type PrivateBroker, type PrivateBrokerOptions } from './rabbitmq.js';
export {
  startPrivatePostgres,
  type PostgresConnection,
  type PostgresStopMode,
  type PrivatePostgres,
  type PrivatePostgresOptions,
} from './postgres.js';
