import { LocalCommunicator, type Communicator } from 'kiwipy-ts';
import { aiidaCodec } from './wire/aiida-codec.js';
import { getProfile } from '../config/manager.js';
import type { Profile } from '../config/profile.js';
import type { BrokerConfig } from '../config/schema.js';
import { getDefaultStorage, getStorage } from '../storage/context.js';
import { RunnerOwnership } from './daemon/runner-ownership.js';
import { getLogger } from './logging.js';
import { Runner, type RunnerOptions } from './runner.js';

/** The AMQP URL of a profile's broker configuration. */
export function brokerUrlOf(config: BrokerConfig): string {
  const query = new URLSearchParams(
    Object.fromEntries(Object.entries(config.broker_parameters).map(([key, value]) => [key, String(value)])),
  ).toString();
  const vhost = config.broker_virtual_host === '' ? '' : `/${encodeURIComponent(config.broker_virtual_host)}`;
  return (
    `${config.broker_protocol}://${encodeURIComponent(config.broker_username)}:${encodeURIComponent(config.broker_password)}@` +
    `${config.broker_host}:${config.broker_port}${vhost}${query === '' ? '' : `?${query}`}`
  );
}

/** Options of {@link connectProfileBroker}. */
export interface ProfileBrokerOptions {
  /** How long to try to reach the broker (ms, default 2000). */
  readonly timeout?: number;
  /** Most unacknowledged tasks a consumer holds (AiiDA: the worker slots); 0 = no limit. */
  readonly taskPrefetchCount?: number;
}

/**
 * Connects to the RabbitMQ broker of `profile` (aiida-core's topology, prefix `aiida-<profile uuid>`), reconnecting
 * when the connection drops; undefined when the profile has no broker. Rejects when it cannot be reached in time.
 */
export async function connectProfileBroker(
  profile: Profile,
  options: ProfileBrokerOptions = {},
): Promise<Communicator | undefined> {
  if (profile.processControlBackend !== 'core.rabbitmq') return undefined;
  const { connect } = await import('kiwipy-ts/rmq');
  return await connect({
    url: brokerUrlOf(profile.processControlConfig),
    prefix: `aiida-${profile.uuid}`,
    testingMode: profile.isTestProfile,
    connectTimeout: options.timeout ?? 2_000,
    taskPrefetchCount: options.taskPrefetchCount ?? 0,
    reconnect: { enabled: true, timeout: 30_000 },
    // aiida-core's wire format, so that either side's processes can be watched and controlled from the other.
    codec: aiidaCodec,
    errorReplies: 'message',
  });
}

/** Options of {@link Manager.getRunner}. */
export interface ManagerOptions {
  /** How long to try to reach the profile's broker before running without it (ms, default 2000). */
  readonly brokerTimeout?: number;
  /**
   * Whether a foreground `run` handles Ctrl-C itself (default true); false where the caller does, as `verdi run`
   * does for every process of its script.
   */
  readonly handleSignals?: boolean;
}

/**
 * Holds the runner of this JS process (aiida's `Manager`): made on first use for the loaded profile's storage, with
 * the profile's RabbitMQ broker as communicator when it has one and the broker answers (processes are then
 * controllable with `verdi process kill|pause|play` from elsewhere), else an in-process `LocalCommunicator`.
 */
export class Manager {
  #runner: Promise<Runner> | undefined;
  #broker: Communicator | undefined;

  /**
   * The runner; made (and the broker connected) on first call, and made again when the storage it runs on is no longer
   * the one loaded (another profile, or the same one loaded again: aiida's manager resets its runner with the profile).
   */
  async getRunner(options: ManagerOptions = {}): Promise<Runner> {
    const held = this.#runner;
    if (held !== undefined) {
      const runner = await held.catch(() => undefined);
      // the loaded profile's storage (a storage scoped by `withStorage` does not replace the runner)
      const loaded = getDefaultStorage();
      const stale =
        runner !== undefined && (runner.storage.isClosed || (loaded !== null && runner.storage !== loaded));
      if (stale && this.#runner === held) await this.close();
    }
    this.#runner ??= this.#createRunner(options).catch((error: unknown) => {
      this.#runner = undefined;
      throw error;
    });
    return await this.#runner;
  }

  /** Whether the runner talks to a broker (so that `submit` can hand processes to the daemon). */
  get hasBroker(): boolean {
    return this.#broker !== undefined && !this.#broker.isClosed();
  }

  /** Uses `runner` from now on (the previous one is not closed). */
  setRunner(runner: Runner): void {
    this.#runner = Promise.resolve(runner);
  }

  async #createRunner(options: ManagerOptions): Promise<Runner> {
    const storage = getStorage();
    const profile = getProfile();
    const communicator = await this.#communicator(profile, options);
    const runnerOptions: RunnerOptions = {
      storage,
      communicator,
      ownsCommunicator: true,
      ...(options.handleSignals === undefined ? {} : { handleSignals: options.handleSignals }),
      // A profile's runner records who runs its processes (and hands submissions to a running daemon).
      ...(profile === undefined ? {} : { ownership: new RunnerOwnership(storage, { broker: this.#broker }) }),
      ...(profile?.isTestProfile === true ? { pollInterval: 0 } : {}),
    };
    return new Runner(runnerOptions);
  }

  async #communicator(profile: Profile | undefined, options: ManagerOptions): Promise<Communicator> {
    if (profile === undefined || profile.processControlBackend !== 'core.rabbitmq')
      return new LocalCommunicator();
    try {
      const broker = await connectProfileBroker(profile, { timeout: options.brokerTimeout ?? 2_000 });
      if (broker === undefined) return new LocalCommunicator();
      this.#broker = broker;
      return broker;
    } catch (error) {
      getLogger('aiida').warn(
        { err: error },
        'the broker of the profile cannot be reached: processes run without remote control (no daemon submission)',
      );
      return new LocalCommunicator();
    }
  }

  /** Closes the runner (and its broker connection). */
  async close(): Promise<void> {
    const runner = this.#runner;
    this.#runner = undefined;
    this.#broker = undefined;
    if (runner !== undefined) await (await runner.catch(() => undefined))?.close();
  }
}

let manager: Manager | undefined;

/** The manager of this JS process. */
export function getManager(): Manager {
  manager ??= new Manager();
  return manager;
}
