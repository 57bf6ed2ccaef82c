import type { KillMessage } from './messages.js';
import type { Process } from './process.js';

/**
 * Observes a process (plumpy's `ProcessListener`): implement the events of interest. A listener that throws
 * is logged by the process and does not disturb it.
 */
export interface ProcessListener<P extends Process = Process> {
  /** Declared for plumpy parity; never fired (as in plumpy). */
  onProcessCreated?(process: P): void;
  onProcessRunning?(process: P): void;
  onProcessWaiting?(process: P): void;
  onProcessPaused?(process: P): void;
  onProcessPlayed?(process: P): void;
  onOutputEmitted?(process: P, port: string, value: unknown, dynamic: boolean): void;
  onProcessFinished?(process: P, outputs: unknown): void;
  onProcessExcepted?(process: P, reason: string): void;
  onProcessKilled?(process: P, msg: KillMessage | null): void;
}

/** The names of the events a {@link ProcessListener} can receive. */
export type ProcessListenerEvent = keyof ProcessListener;
