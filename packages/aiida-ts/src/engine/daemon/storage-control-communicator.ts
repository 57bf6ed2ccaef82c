import { LocalCommunicator, Reply, UnroutableError, type Communicator, type RpcSubscriber } from 'kiwipy-ts';
import { controlMessageSchema } from 'plumpy-ts';
import type { StorageBackend } from '../../storage/backend.js';
import { ForwardingCommunicator } from '../forwarding-communicator.js';
import { controlIntentSchema } from './control-table.js';
import { requestControl } from './control.js';

/**
 * A communicator whose pause, play and kill RPCs to a process that it cannot reach (no broker, or the process is
 * parked or runs in another worker) become control requests in the storage, honoured by whoever runs the process
 * next: a work chain killed in one worker kills its children in the others. Everything else goes to the wrapped
 * communicator, which it closes when it owns it.
 */
export class StorageControlCommunicator extends ForwardingCommunicator {
  readonly #storage: StorageBackend;
  readonly #owns: boolean;

  constructor(inner: Communicator, storage: StorageBackend, options: { readonly ownsInner?: boolean } = {}) {
    super(inner);
    this.#storage = storage;
    this.#owns = options.ownsInner ?? false;
  }

  override rpcSend<R = unknown>(recipientId: string, message: unknown): Reply<R> {
    const reply = new Reply<R>();
    const pk = Number(recipientId);
    const control = controlMessageSchema.safeParse(message);
    const intent = control.success ? controlIntentSchema.safeParse(control.data.intent) : undefined;
    this.inner.rpcSend<R>(recipientId, message).then(
      (value) => reply.resolve(value),
      (error: unknown) => {
        if (!(error instanceof UnroutableError) || intent?.success !== true || !Number.isInteger(pk)) {
          reply.reject(error);
          return;
        }
        requestControl(pk, intent.data, {
          storage: this.#storage,
          communicator: null,
          message: control?.success === true ? (control.data.message ?? null) : null,
          force: control?.success === true ? (control.data.force_kill ?? false) : false,
        }).then(
          (requests) => reply.resolve((requests[0]?.state !== 'failed') as R),
          (failure: unknown) => reply.reject(failure),
        );
      },
    );
    return reply;
  }

  override async close(): Promise<void> {
    if (this.#owns) await this.inner.close();
  }
}

/**
 * What a daemon worker's processes talk through when there is a broker: tasks and broadcasts (state changes, which
 * futures in other OS processes wait for) go over the broker, while each process's RPC subscription stays in this
 * OS process — a queue on the broker per loaded process would cost round trips at every load and park. Control
 * messages from elsewhere reach the processes as requests in the storage, which the worker applies within a poll.
 */
export class WorkerCommunicator extends ForwardingCommunicator {
  readonly #local = new LocalCommunicator();

  override addRpcSubscriber(subscriber: RpcSubscriber, identifier?: string): Promise<string> {
    return this.#local.addRpcSubscriber(subscriber, identifier);
  }

  override removeRpcSubscriber(identifier: string): Promise<void> {
    return this.#local.removeRpcSubscriber(identifier);
  }

  override rpcSend<R = unknown>(recipientId: string, message: unknown): Reply<R> {
    return this.#local.rpcSend<R>(recipientId, message);
  }

  override async close(): Promise<void> {
    await this.#local.close();
  }
}
