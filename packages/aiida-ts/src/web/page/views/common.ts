/// <reference lib="dom" />
import type { NodeRow } from '../api.js';
import { stateBadge } from '../controls.js';
import { className, h } from '../dom.js';
import { link } from '../router.js';

/** A link to a node: a process goes to its process view, data to the node view. */
export function nodeLink(row: Pick<NodeRow, 'id' | 'node_type'>, text?: string): HTMLAnchorElement {
  const isProcess = row.node_type.startsWith('process.');
  return link(
    isProcess ? `/processes/${row.id}` : `/nodes/${row.id}`,
    text ?? `${className(row.node_type)}<${row.id}>`,
    {
      'data-node': String(row.id),
    },
  );
}

/** A table of linked nodes (inputs or outputs of a node). */
export function linkTable(rows: NodeRow[], testid: string): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'muted', 'data-testid': testid }, 'None.');
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      { class: 'list', 'data-testid': testid },
      h(
        'thead',
        {},
        h('tr', {}, ...['Link label', 'Type', 'Node', 'Label', 'State'].map((text) => h('th', {}, text))),
      ),
      h(
        'tbody',
        {},
        ...rows.map((row) =>
          h(
            'tr',
            {},
            h('td', {}, row.link_label ?? ''),
            h('td', { class: 'muted' }, row.link_type ?? ''),
            h('td', {}, nodeLink(row)),
            h('td', {}, row.label),
            h(
              'td',
              {},
              row.node_type.startsWith('process.')
                ? stateBadge({
                    process_state: row.process_state ?? null,
                    paused: row.paused ?? null,
                    exit_status: row.exit_status ?? null,
                  })
                : '',
            ),
          ),
        ),
      ),
    ),
  );
}

/** A JSON value, pretty-printed. */
export function jsonBlock(value: unknown, testid?: string): HTMLElement {
  return h(
    'pre',
    { class: 'json', ...(testid === undefined ? {} : { 'data-testid': testid }) },
    JSON.stringify(value, null, 2),
  );
}

/** A key/value table. */
export function facts(entries: [string, Node | string | number | null | undefined][]): HTMLElement {
  return h(
    'dl',
    { class: 'facts' },
    ...entries
      .filter(([, value]) => value !== null && value !== undefined && value !== '')
      .flatMap(([key, value]) => [h('dt', {}, key), h('dd', {}, value ?? '')]),
  );
}

/** A titled card. */
export function card(title: string, ...content: (Node | string)[]): HTMLElement {
  return h('section', { class: 'card' }, h('h3', {}, title), ...content);
}
