import { randomUUID } from 'node:crypto';
import type { BroadcastFilter, BroadcastSubscriber, RpcSubscriber } from 'kiwipy-ts';
import { ForwardingCommunicator } from './forwarding-communicator.js';

/**
 * The communicator of a process made only to be handed to the daemon (a `submit`): it sends what the process sends
 * (its `state_changed.None.created` broadcast), but takes no subscriptions. Such a process is closed as soon as its
 * first checkpoint is stored, so an RPC queue declared for it would live for a few milliseconds and cost the submission
 * its round trips to the broker (declare and consume, then cancel): four of them, most of a submission's time. The
 * worker that claims the process subscribes it; a message sent to it before that finds no subscriber, as one sent
 * while no worker has it yet would.
 */
export class HandOverCommunicator extends ForwardingCommunicator {
  override addRpcSubscriber(_subscriber: RpcSubscriber, identifier?: string): Promise<string> {
    return Promise.resolve(identifier ?? randomUUID());
  }

  override removeRpcSubscriber(): Promise<void> {
    return Promise.resolve();
  }

  override addBroadcastSubscriber(
    _subscriber: BroadcastSubscriber | BroadcastFilter,
    identifier?: string,
  ): Promise<string> {
    return Promise.resolve(identifier ?? randomUUID());
  }

  override removeBroadcastSubscriber(): Promise<void> {
    return Promise.resolve();
  }
}
