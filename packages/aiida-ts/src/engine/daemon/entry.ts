import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Communicator } from 'kiwipy-ts';
import { loadProfile, unloadProfile } from '../../config/load-profile.js';
import { getConfigOption } from '../../config/manager.js';
import type { Profile } from '../../config/profile.js';
import type { StorageBackend } from '../../storage/backend.js';
import { getStorage } from '../../storage/context.js';
import { getLogger } from '../logging.js';
import { connectProfileBroker } from '../manager.js';
import { importProcessModule } from './bad-input.js';
import { DaemonWorker, type WorkerExit, type WorkerSettings, type WorkerStats } from './worker.js';

/** Options of {@link startDaemonWorker} and {@link runDaemonWorker}. */
export interface DaemonWorkerOptions extends Omit<WorkerSettings, 'slots' | 'stopTimeoutMs'> {
  /** The storage to use (default: the profile's, opened here and closed when the worker stops). */
  readonly storage?: StorageBackend;
  /** Processes held at once (default: the profile's `daemon.worker_process_slots`). */
  readonly slots?: number;
  /** The bound of a graceful stop (ms; default five times `daemon.timeout`, at least 10 s). */
  readonly stopTimeoutMs?: number;
  /**
   * The broker: by default the profile's RabbitMQ when it has one and it answers within `brokerTimeoutMs` (else the
   * worker coordinates through the storage alone, with a warning); `null` for the storage alone.
   */
  readonly communicator?: Communicator | null;
  readonly brokerTimeoutMs?: number;
  /** Modules (paths or file URLs) imported before claiming: they define the process classes. */
  readonly modules?: readonly string[];
  /** Stop on SIGTERM, SIGINT and SIGHUP (a second signal stops at once). Default false. */
  readonly handleSignals?: boolean;
  /** Aborting it stops the worker gracefully. */
  readonly signal?: AbortSignal;
}

/** A running daemon worker. */
export interface DaemonWorkerHandle extends AsyncDisposable {
  readonly id: string;
  /** Resolves once the worker is registered and claiming. */
  readonly ready: Promise<void>;
  /** Resolves when the worker has stopped and released what it opened (never rejects). */
  readonly done: Promise<WorkerExit>;
  /** Stops the worker (see the stop rules of `DaemonWorker.stop`); resolves like {@link done}. */
  stop(options?: { readonly force?: boolean }): Promise<WorkerExit>;
  stats(): WorkerStats;
  /** The worker itself (its runner, for tests and tools). */
  readonly worker: DaemonWorker;
}

const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/** Sends a message to the supervisor that forked this process, if it is still connected (a closed channel would throw). */
function tellSupervisor(message: Record<string, unknown>): void {
  if (process.connected) process.send?.(message);
}

function moduleUrl(module: string): string {
  if (/^[a-z]+:/i.test(module)) return module;
  return pathToFileURL(isAbsolute(module) ? module : resolve(module)).href;
}

function configured(name: string, fallback: number): number {
  const value = getConfigOption(name);
  return typeof value === 'number' ? value : fallback;
}

/**
 * Starts a daemon worker on a profile (a `Profile`, its name, or the loaded one when undefined) and resolves once it
 * is ready. It logs its lifecycle on the `aiida` logger, and, when this OS process has an IPC channel (a supervisor
 * forked it), sends `{ aiidaDaemon: 'ready', workerId, pid }` once ready and `{ aiidaDaemon: 'stopped', workerId,
 * released, abandoned }` once stopped.
 */
export async function startDaemonWorker(
  profile: Profile | string | undefined,
  options: DaemonWorkerOptions = {},
): Promise<DaemonWorkerHandle> {
  const cleanups: (() => Promise<void> | void)[] = [];
  let storage = options.storage;
  let loaded: Profile | undefined;
  if (storage === undefined) {
    loaded = await loadProfile(typeof profile === 'string' ? profile : profile?.name);
    cleanups.push(() => unloadProfile());
    storage = getStorage();
  }
  const slots = options.slots ?? configured('daemon.worker_process_slots', 200);
  const stopTimeoutMs = options.stopTimeoutMs ?? Math.max(10_000, configured('daemon.timeout', 2) * 5_000);
  let broker: Communicator | undefined = options.communicator ?? undefined;
  const brokerProfile = loaded ?? (typeof profile === 'object' ? profile : undefined);
  if (options.communicator === undefined && brokerProfile !== undefined) {
    try {
      broker = await connectProfileBroker(brokerProfile, {
        timeout: options.brokerTimeoutMs ?? 2_000,
        taskPrefetchCount: slots,
      });
      if (broker !== undefined) {
        const opened = broker;
        cleanups.push(() => opened.close());
      }
    } catch (error) {
      getLogger('aiida').warn(
        { err: error },
        'the broker of the profile cannot be reached: the daemon worker coordinates through the storage alone',
      );
    }
  }
  for (const module of options.modules ?? []) await importProcessModule(moduleUrl(module));
  const worker = await DaemonWorker.start({
    ...options,
    storage,
    broker,
    slots,
    stopTimeoutMs,
  });
  let signals = 0;
  const onSignal = (): void => {
    signals += 1;
    void worker.stop({ force: signals > 1, reason: 'signal' });
  };
  if (options.handleSignals === true) {
    for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
    cleanups.push(() => {
      for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    });
  }
  const onAbort = (): void => void worker.stop({ reason: 'stopped' });
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted === true) onAbort();
  tellSupervisor({ aiidaDaemon: 'ready', workerId: worker.id, pid: process.pid });
  const done = worker.done.then(async (exit) => {
    options.signal?.removeEventListener('abort', onAbort);
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        getLogger('aiida').warn({ err: error }, 'daemon worker: a cleanup failed');
      }
    }
    tellSupervisor({
      aiidaDaemon: 'stopped',
      workerId: exit.workerId,
      released: exit.released,
      abandoned: exit.abandoned,
    });
    return exit;
  });
  return {
    id: worker.id,
    ready: worker.ready,
    done,
    worker,
    stop: async (stopOptions = {}) => {
      await worker.stop(stopOptions);
      return await done;
    },
    stats: () => worker.stats(),
    [Symbol.asyncDispose]: async () => {
      await worker.stop();
      await done;
    },
  };
}

/** Runs a daemon worker until it is stopped (signal, abort); resolves with how it ended. */
export async function runDaemonWorker(
  profile: Profile | string | undefined,
  options: DaemonWorkerOptions = {},
): Promise<WorkerExit> {
  const handle = await startDaemonWorker(profile, options);
  return await handle.done;
}
