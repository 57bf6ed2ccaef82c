import type { ProcessRunner } from '../process-runner.js';
import { jobCoordinatorFor, type JobCoordinator } from './coordination.js';
import { JobManager } from './job-manager.js';
import { SubmitBatcher } from './submit-batcher.js';
import { TransportQueue } from './transport-queue.js';

/** What the calculation jobs of one runner share (aiida's `runner.transport` and `runner.job_manager`). */
export interface CalcJobServices {
  readonly coordinator: JobCoordinator;
  readonly transports: TransportQueue;
  readonly jobManager: JobManager;
  /** Submits the jobs that come together in one command per transport. */
  readonly submissions: SubmitBatcher;
}

const services = new WeakMap<ProcessRunner, CalcJobServices>();

/** The transport queue, job manager and coordinator of `runner`'s calculation jobs (made on first use). */
export function calcJobServices(runner: ProcessRunner): CalcJobServices {
  let found = services.get(runner);
  if (found === undefined) {
    const coordinator = jobCoordinatorFor(runner.storage);
    const transports = new TransportQueue({ coordinator });
    found = {
      coordinator,
      transports,
      jobManager: new JobManager(coordinator, transports),
      submissions: new SubmitBatcher(),
    };
    services.set(runner, found);
  }
  return found;
}
