/// <reference lib="dom" />
import { get, type NodeRow } from '../api.js';
import { ago, className, h, replace } from '../dom.js';
import { link } from '../router.js';
import { card } from './common.js';
import { nodeLink } from './common.js';

interface GroupRow {
  id: number;
  uuid: string;
  label: string;
  type_string: string;
  description: string;
  time: string;
}

/** The groups of the profile. */
export function groupsView(root: HTMLElement): void {
  const body = h('tbody', {}, h('tr', {}, h('td', { colspan: 4 }, 'Loading…')));
  root.append(
    card(
      'Groups',
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          { class: 'list', 'data-testid': 'groups' },
          h(
            'thead',
            {},
            h('tr', {}, ...['PK', 'Label', 'Type', 'Description'].map((text) => h('th', {}, text))),
          ),
          body,
        ),
      ),
    ),
  );
  get<{ groups: GroupRow[] }>('/groups?orderby=label')
    .then((data) => {
      replace(
        body,
        ...data.groups.map((group) =>
          h(
            'tr',
            {},
            h('td', {}, String(group.id)),
            h('td', {}, link(`/groups/${group.id}`, group.label)),
            h('td', { class: 'muted' }, group.type_string),
            h('td', {}, group.description),
          ),
        ),
      );
      if (data.groups.length === 0) body.append(h('tr', {}, h('td', { colspan: 4 }, 'No groups.')));
    })
    .catch((error: unknown) => replace(body, h('tr', {}, h('td', { colspan: 4 }, (error as Error).message))));
}

/** The nodes of one group. */
export function groupView(root: HTMLElement, params: Record<string, string>): void {
  const id = params['id'] ?? '';
  const body = h('tbody');
  const title = h('h3', {}, 'Group');
  root.append(
    h(
      'section',
      { class: 'card' },
      title,
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          { class: 'list', 'data-testid': 'group-nodes' },
          h(
            'thead',
            {},
            h('tr', {}, ...['Node', 'Type', 'Label', 'Created'].map((text) => h('th', {}, text))),
          ),
          body,
        ),
      ),
    ),
  );
  Promise.all([
    get<{ groups: GroupRow[] }>(`/groups/${id}`),
    get<{ nodes: NodeRow[] }>(`/groups/${id}/nodes?orderby=id`),
  ])
    .then(([groups, nodes]) => {
      const group = groups.groups[0];
      title.textContent = `Group ${group?.label ?? id} (${nodes.nodes.length} nodes)`;
      replace(
        body,
        ...nodes.nodes.map((node) =>
          h(
            'tr',
            {},
            h('td', {}, nodeLink(node)),
            h('td', { class: 'muted' }, className(node.node_type)),
            h('td', {}, node.label),
            h('td', {}, ago(node.ctime)),
          ),
        ),
      );
    })
    .catch((error: unknown) => replace(body, h('tr', {}, h('td', { colspan: 4 }, (error as Error).message))));
}
