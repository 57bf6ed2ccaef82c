import nodeProcess from 'node:process';

/** The environment variable naming the fault points that end this OS process (comma separated). */
export const FAULT_INJECT_ENV = 'AIIDA_TS_FAULT_INJECT';

/**
 * A named point of a calculation job's lifecycle where a test can make this OS process die at once (SIGKILL), to
 * prove that a job continued by another runner from its checkpoint submits no second job and records the same
 * provenance. Does nothing unless `AIIDA_TS_FAULT_INJECT` names the point; never set it in production.
 */
export function faultPoint(name: string): void {
  const spec = nodeProcess.env[FAULT_INJECT_ENV];
  if (spec === undefined || spec === '') return;
  if (spec.split(',').includes(name)) nodeProcess.kill(nodeProcess.pid, 'SIGKILL');
}
