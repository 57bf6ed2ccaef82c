/// <reference lib="dom" />
import { ApiError, post, type ProcessRow } from './api.js';
import { h } from './dom.js';

const ACTIVE = new Set(['created', 'waiting', 'running']);

/** Whether a process can still be paused, played or killed. */
export function isActive(row: Pick<ProcessRow, 'process_state'>): boolean {
  return ACTIVE.has(String(row.process_state));
}

/** The state of a process as a coloured badge (`paused` shows as such). */
export function stateBadge(row: Pick<ProcessRow, 'process_state' | 'paused' | 'exit_status'>): HTMLElement {
  const state = String(row.process_state ?? 'unknown');
  const failed = state === 'finished' && row.exit_status !== null && row.exit_status !== 0;
  const text =
    row.paused === true ? `${state} (paused)` : failed ? `finished [${String(row.exit_status)}]` : state;
  const kind = row.paused === true ? 'paused' : failed ? 'failed' : state;
  return h(
    'span',
    {
      class: `badge state-${kind}`,
      'data-state': state,
      'data-paused': row.paused === true ? 'true' : 'false',
    },
    text,
  );
}

/** Where a control action reports back. */
export type Notify = (message: string, kind: 'ok' | 'error') => void;

/** Pause/play/kill buttons for an active process. */
export function controlButtons(row: ProcessRow, notify: Notify): HTMLElement {
  const box = h('span', { class: 'controls' });
  if (!isActive(row)) return box;
  const run = async (action: 'pause' | 'play' | 'kill', event: Event): Promise<void> => {
    event.stopPropagation();
    if (action === 'kill' && !confirm(`Kill process ${row.id}?`)) return;
    try {
      const result = await post<{ state: string; result: string | null }>(`/processes/${row.id}/${action}`);
      notify(
        `${action} ${row.id}: ${result.result ?? result.state}`,
        result.state === 'failed' ? 'error' : 'ok',
      );
    } catch (error) {
      const message =
        error instanceof ApiError && (error.status === 401 || error.status === 403)
          ? `${action} refused (${error.status}): ${error.message}`
          : `${action} failed: ${(error as Error).message}`;
      notify(message, 'error');
    }
  };
  const act =
    (action: 'pause' | 'play' | 'kill') =>
    (event: Event): void =>
      void run(action, event);
  box.append(
    row.paused === true
      ? h('button', { class: 'btn', 'data-action': 'play', title: 'Play', onclick: act('play') }, '▶ play')
      : h(
          'button',
          { class: 'btn', 'data-action': 'pause', title: 'Pause', onclick: act('pause') },
          '‖ pause',
        ),
    h(
      'button',
      { class: 'btn danger', 'data-action': 'kill', title: 'Kill', onclick: act('kill') },
      '✕ kill',
    ),
  );
  return box;
}
