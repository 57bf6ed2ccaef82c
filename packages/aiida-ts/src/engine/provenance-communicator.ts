import type { BroadcastSendOptions, Communicator } from 'kiwipy-ts';
import { AiidaError } from '../errors.js';
import { asError } from '../utils/as-error.js';
import { ForwardingCommunicator } from './forwarding-communicator.js';

/** Finds what must be written before a process's state change may be announced. */
export type PendingWrites = (pid: unknown) => Promise<void> | undefined;

const TERMINAL_STATE_CHANGED = /^state_changed\.[^.]+\.(finished|excepted|killed)$/;
const EXCEPTED_STATE_CHANGED = /^state_changed\.[^.]+\.excepted$/;

/** Options of {@link ProvenanceCommunicator}. */
export interface ProvenanceCommunicatorOptions {
  /** Send `state_changed.<from>.excepted` too (aiida-core does not; default false). */
  readonly broadcastExcepted?: boolean;
}

/**
 * The communicator processes of a runner talk through: the runner's communicator, except that a process's
 * `state_changed.<from>.<terminal state>` broadcast waits until the node records its end. Whoever acts on the broadcast
 * (a `ProcessFuture`, `verdi process watch`) then finds the state, outputs and exit code stored (aiida's guarantee).
 * The excepted state is not broadcast, as aiida-core's `Process.on_entered` does not (recorded on the wire: a failing
 * work chain's broadcasts stop at `created.running`), unless opted in. Closing it does not close the communicator it
 * wraps.
 */
export class ProvenanceCommunicator extends ForwardingCommunicator {
  readonly #pending: PendingWrites;
  readonly #broadcastExcepted: boolean;

  constructor(inner: Communicator, pending: PendingWrites, options: ProvenanceCommunicatorOptions = {}) {
    super(inner);
    this.#pending = pending;
    this.#broadcastExcepted = options.broadcastExcepted ?? false;
  }

  override broadcastSend(body: unknown, options: BroadcastSendOptions = {}): Promise<boolean> {
    // Every other broadcast (a process's `created`, `running`, … state changes, three a process function) goes out as
    // it comes, without an async frame of its own.
    if (typeof options.subject !== 'string' || !TERMINAL_STATE_CHANGED.test(options.subject)) {
      try {
        return this.inner.broadcastSend(body, options);
      } catch (error) {
        // as from the async method it was: a failure to send is a rejection, never a throw into the transition
        return Promise.reject(asError(error, AiidaError));
      }
    }
    return this.#afterEndWritten(body, options, options.subject);
  }

  async #afterEndWritten(body: unknown, options: BroadcastSendOptions, subject: string): Promise<boolean> {
    // Not sent (false), as aiida-core sends nothing when a process excepts: its waiters poll the node.
    if (!this.#broadcastExcepted && EXCEPTED_STATE_CHANGED.test(subject)) return false;
    // The hooks of the transition finish in this tick: look for their writes in the next one.
    await Promise.resolve();
    await this.#pending(options.sender)?.catch(() => undefined);
    return this.inner.broadcastSend(body, options);
  }
}
