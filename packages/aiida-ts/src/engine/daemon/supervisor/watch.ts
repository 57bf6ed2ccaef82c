import type { ProcessNode } from '../../../orm/nodes/process/process.js';

/** One change of a watched process, as `verdi process watch` prints it. */
export interface WatchEvent {
  readonly pk: number;
  /** aiida's broadcast subject: `state_changed.<from>.<to>`, `paused` or `played`. */
  readonly subject: string;
  readonly status: string | null;
  readonly terminated: boolean;
}

/** Options of {@link watchProcesses}. */
export interface WatchOptions {
  /** How often the nodes are read (ms, default 200). */
  readonly intervalMs?: number;
  readonly signal?: AbortSignal;
}

interface Seen {
  state: string | null;
  paused: boolean;
}

/**
 * Follows processes by reading their nodes (their state, paused flag and status, which every worker writes) and
 * calls `onEvent` for each change, until all have terminated or `signal` aborts. Works the same with or without a
 * broker, whichever worker or script runs them.
 */
export async function watchProcesses(
  nodes: readonly ProcessNode[],
  onEvent: (event: WatchEvent) => void,
  options: WatchOptions = {},
): Promise<void> {
  const interval = options.intervalMs ?? 200;
  const seen = new Map<ProcessNode, Seen>(
    nodes.map((node) => [node, { state: node.processState ?? null, paused: node.paused }]),
  );
  const pending = new Set(nodes.filter((node) => !node.isTerminated));
  while (pending.size > 0 && options.signal?.aborted !== true) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, interval);
      options.signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
    for (const node of [...pending]) {
      await node.refresh();
      const before = seen.get(node) ?? { state: null, paused: false };
      const state = node.processState ?? null;
      const pk = node.pk ?? 0;
      if (state !== before.state)
        onEvent({
          pk,
          subject: `state_changed.${String(before.state)}.${String(state)}`,
          status: node.processStatus,
          terminated: node.isTerminated,
        });
      else if (node.paused !== before.paused)
        onEvent({
          pk,
          subject: node.paused ? 'paused' : 'played',
          status: node.processStatus,
          terminated: false,
        });
      seen.set(node, { state, paused: node.paused });
      if (node.isTerminated) pending.delete(node);
    }
  }
}
