import { z } from 'zod';
import type { AuthInfo } from '../../../orm/entities/computer.js';
import { jobInfoFromAiidaDict, jobInfoToAiidaDict, type JobInfo } from '../../../schedulers/job-info.js';
import { validateUser } from '../../../schedulers/scheduler.js';
import type { Transport } from '../../../transports/transport.js';
import { asError } from '../../../utils/as-error.js';
import { abortReason, sleep } from './backoff.js';
import { remoteUser } from './execmanager.js';
import type { JobCoordinator } from './coordination.js';
import type { TransportQueue } from './transport-queue.js';

/**
 * One scheduler poll as it is shared between processes: when it started (ms since the epoch), which jobs it asked
 * about (null: every job of the user) and what the scheduler listed, in aiida's `JobInfo.get_dict()` layout.
 */
const pollResultSchema = z.object({
  startedAt: z.number(),
  queried: z.array(z.string()).nullable(),
  jobs: z.record(z.string(), z.unknown()),
});
type PollResult = z.infer<typeof pollResultSchema>;

/** The key of the shared scheduler poll of a computer and user (see the coordination contract). */
export function schedulerPollKey(authInfo: AuthInfo): string {
  return `scheduler-poll:${authInfo.computer.uuid}:${authInfo.user.email}`;
}

interface Request {
  readonly jobId: string;
  /** When the request was made: only a poll started afterwards can answer it. */
  readonly at: number;
  readonly resolve: (info: JobInfo | null) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The jobs of one computer and user whose state processes of this runner wait for (aiida's `JobsList`): one scheduler
 * query answers every pending request, and queries happen at most once per `minimum_scheduler_poll_interval` across
 * every process of the profile (a poll another process made recently is reused).
 */
/** The least time between two polls of one list when the computer sets no minimum interval (ms). */
const UNLIMITED_POLL_SPACING_MS = 5;

class JobsList {
  readonly #authInfo: AuthInfo;
  readonly #coordinator: JobCoordinator;
  readonly #transports: TransportQueue;
  readonly #pending = new Set<Request>();
  #running = false;
  /** When the last poll of this list started (without a minimum interval, polls are still spaced by a little). */
  #lastPollAt = -Infinity;
  /** The remote user's name, once known: the scheduler is asked for that user's jobs. */
  #user: string | undefined;

  constructor(authInfo: AuthInfo, coordinator: JobCoordinator, transports: TransportQueue) {
    this.#authInfo = authInfo;
    this.#coordinator = coordinator;
    this.#transports = transports;
  }

  /** The job's info at the next poll that started after this call, or null when the scheduler no longer lists it. */
  request(jobId: string, signal?: AbortSignal): Promise<JobInfo | null> {
    signal?.throwIfAborted();
    return new Promise<JobInfo | null>((resolve, reject) => {
      const onAbort = (): void => {
        this.#pending.delete(request);
        reject(abortReason(signal!));
      };
      const request: Request = {
        jobId,
        at: Date.now(),
        resolve: (info) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(info);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(asError(error));
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.add(request);
      this.#start();
    });
  }

  /** Runs the polling loop unless it runs already; it ends when no request is pending. */
  #start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#run().finally(() => {
      this.#running = false;
      if (this.#pending.size > 0) this.#start();
    });
  }

  get intervalMs(): number {
    return Math.max(0, this.#authInfo.computer.getMinimumJobPollInterval()) * 1000;
  }

  async #run(): Promise<void> {
    while (this.#pending.size > 0) {
      const interval = this.intervalMs;
      let result: PollResult;
      const asked = [...this.#pending];
      try {
        // Without a minimum interval every poll is made fresh anyway: sharing it through the coordinator (storage
        // rows, a lease, the stored result) would cost each poll several commits and answer nothing sooner.
        if (interval === 0) {
          // A poll that costs no process (core.direct on the local machine reads /proc) would otherwise be made
          // again at once for as long as the job runs, each round a step of every job waiting on it.
          const since = Date.now() - this.#lastPollAt;
          if (since < UNLIMITED_POLL_SPACING_MS) await sleep(UNLIMITED_POLL_SPACING_MS - since);
          this.#lastPollAt = Date.now();
          result = await this.#poll();
        } else
          ({ value: result } = await this.#coordinator.sharedPoll(
            schedulerPollKey(this.#authInfo),
            interval,
            () => this.#poll(),
            { schema: pollResultSchema },
          ));
      } catch (error) {
        // A failed poll fails the requests it was made for; their callers retry (exponential backoff).
        for (const request of asked) {
          if (!this.#pending.delete(request)) continue;
          request.reject(error);
        }
        continue;
      }
      let answered = 0;
      for (const request of [...this.#pending]) {
        // A poll started before the request may predate the job: it cannot say the job is gone.
        if (result.startedAt < request.at) continue;
        if (result.queried !== null && !result.queried.includes(request.jobId)) continue;
        this.#pending.delete(request);
        answered += 1;
        const raw = result.jobs[request.jobId];
        try {
          request.resolve(raw === undefined ? null : jobInfoFromAiidaDict(raw));
        } catch (error) {
          request.reject(error);
        }
      }
      if (this.#pending.size > 0 && answered === 0) {
        // Nothing this poll could answer: wait until the next one may be made.
        const wait = Math.max(0, result.startedAt + interval - Date.now());
        await sleep(Math.max(wait, interval === 0 ? 0 : 10));
      }
    }
  }

  async #poll(): Promise<PollResult> {
    const computer = this.#authInfo.computer;
    return this.#transports.withTransport(this.#authInfo, async (transport) => {
      const scheduler = await computer.getScheduler({ transport });
      const startedAt = Date.now();
      let queried: string[] | null;
      let jobs: JobInfo[];
      const pending = [...new Set([...this.#pending].map((request) => request.jobId))];
      if (scheduler.jobListQuery(pending.length) === 'user') {
        queried = null;
        jobs = await scheduler.getJobs({ user: await this.#remoteUser(transport) });
      } else {
        queried = pending;
        jobs = await scheduler.getJobs({ jobs: queried });
      }
      const listed: Record<string, unknown> = {};
      for (const job of jobs) {
        const { rawData: _raw, ...rest } = job;
        listed[job.jobId] = jobInfoToAiidaDict(rest);
      }
      return { startedAt, queried, jobs: listed };
    });
  }

  /**
   * The user whose jobs are listed: aiida asks for `$USER`, which a shell without that variable (a non-login shell,
   * a container) has to find with `id -un`, one more process per poll. The name is asked once (`whoami`, free on
   * core.local) and kept; where it cannot be had, or is no plain name, `$USER` is asked as aiida does.
   */
  async #remoteUser(transport: Transport): Promise<string> {
    if (this.#user === undefined) {
      try {
        this.#user = validateUser(await remoteUser(transport));
      } catch {
        return '$USER';
      }
    }
    return this.#user;
  }
}

/**
 * Answers "what is the state of job X?" for the processes of a runner (aiida's `JobManager`): one {@link JobsList} per
 * computer and user batches the requests into one scheduler query per poll interval.
 */
export class JobManager {
  readonly #coordinator: JobCoordinator;
  readonly #transports: TransportQueue;
  readonly #lists = new Map<string, JobsList>();

  constructor(coordinator: JobCoordinator, transports: TransportQueue) {
    this.#coordinator = coordinator;
    this.#transports = transports;
  }

  /**
   * The job's info from the next scheduler poll, or null when the scheduler no longer lists it (it finished). Rejects
   * with the poll's failure (a scheduler that printed garbage raises a parsing error: never read as "finished").
   */
  requestJobInfoUpdate(authInfo: AuthInfo, jobId: string, signal?: AbortSignal): Promise<JobInfo | null> {
    const key = schedulerPollKey(authInfo);
    let list = this.#lists.get(key);
    if (list === undefined)
      this.#lists.set(key, (list = new JobsList(authInfo, this.#coordinator, this.#transports)));
    return list.request(jobId, signal);
  }
}
