import path from 'node:path';
import { forkTestChild, type TestChild } from '../../storage/child-process.js';

const script = path.join(import.meta.dirname, 'scripts', 'coordination-worker.ts');

interface Reply {
  readonly id?: number;
  readonly ok?: boolean;
  readonly result?: unknown;
  readonly error?: string;
  readonly event?: string;
  readonly ready?: boolean;
}

/** A coordination worker process and the commands it runs (see scripts/coordination-worker.ts). */
export class CoordinationWorker {
  readonly child: TestChild;
  readonly ready: Promise<void>;
  #next = 0;
  readonly #replies = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  readonly #events = new Map<number, ((reply: Reply) => void)[]>();

  constructor() {
    this.child = forkTestChild(script, []);
    this.ready = new Promise((resolve, reject) => {
      this.child.process.on('message', (message: Reply) => {
        if (message.ready === true) resolve();
        if (message.id === undefined) return;
        if (message.event !== undefined) {
          for (const listener of this.#events.get(message.id) ?? []) listener(message);
          return;
        }
        const pending = this.#replies.get(message.id);
        this.#replies.delete(message.id);
        if (message.ok === true) pending?.resolve(message.result);
        else pending?.reject(new Error(`worker ${this.child.process.pid} failed: ${message.error}`));
      });
      this.child.done.then(
        () => reject(new Error('the worker exited before it was ready')),
        (error: Error) => {
          reject(error);
          for (const pending of this.#replies.values()) pending.reject(error);
        },
      );
    });
  }

  /** Sends a command; resolves to its result. `onEvent` receives the events it sends meanwhile. */
  run<T>(command: Record<string, unknown>, onEvent?: (event: Reply) => void): Promise<T> {
    const id = (this.#next += 1);
    if (onEvent !== undefined) this.#events.set(id, [onEvent]);
    return new Promise<T>((resolve, reject) => {
      this.#replies.set(id, { resolve: (value) => resolve(value as T), reject });
      this.child.process.send({ ...command, id });
    });
  }

  /** Asks the worker to close its storages and exit; resolves when it has. */
  async exit(): Promise<void> {
    if (this.child.process.exitCode !== null || this.child.process.signalCode !== null) return;
    await this.run({ cmd: 'exit' });
    await this.child.done;
  }

  /** Kills the worker with SIGKILL (no cleanup of any kind) and resolves once it is gone. */
  async kill(): Promise<void> {
    const exited = new Promise((resolve) => this.child.process.once('exit', resolve));
    this.child.process.kill('SIGKILL');
    await exited;
  }
}
