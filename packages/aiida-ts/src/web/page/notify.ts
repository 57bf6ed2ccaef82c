/// <reference lib="dom" />
import { h } from './dom.js';

/** Shows a short message at the bottom of the page. */
export function notify(message: string, kind: 'ok' | 'error' = 'ok'): void {
  let box = document.getElementById('toasts');
  if (box === null) {
    box = h('div', { id: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const toast = h('div', { class: `toast ${kind}` }, message);
  box.append(toast);
  setTimeout(() => toast.remove(), kind === 'error' ? 8000 : 4000);
}
