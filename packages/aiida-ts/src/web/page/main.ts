/// <reference lib="dom" />
import { getToken, get, setToken, type NodeRow } from './api.js';
import { h } from './dom.js';
import { notify } from './notify.js';
import { link, navigate, route, start } from './router.js';
import { graphView } from './views/graph-view.js';
import { groupsView, groupView } from './views/groups-view.js';
import { nodeView } from './views/node-view.js';
import { processListView } from './views/process-list.js';
import { processView } from './views/process-view.js';
import { searchView } from './views/search-view.js';

const THEME_KEY = 'aiida-ts-web-theme';

function applyTheme(theme: string): void {
  document.documentElement.dataset['theme'] = theme;
}

/** The search box: a pk or uuid opens the node; anything else looks for it in labels. */
async function search(text: string): Promise<void> {
  const value = text.trim();
  if (value === '') return;
  if (/^[0-9a-f-]+$/i.test(value)) {
    try {
      const [node] = (await get<{ nodes: NodeRow[] }>(`/nodes/${value}`)).nodes;
      if (node !== undefined) {
        navigate(node.node_type.startsWith('process.') ? `/processes/${node.id}` : `/nodes/${node.id}`);
        return;
      }
    } catch {
      // not an identifier: search the labels
    }
  }
  const query = {
    path: [
      {
        entity_type: '',
        orm_base: 'node',
        tag: 'node',
        joining_keyword: null,
        joining_value: null,
        edge_tag: null,
        outerjoin: false,
      },
    ],
    filters: {
      node: {
        or: [{ label: { ilike: `%${value}%` } }, { 'attributes.process_label': { ilike: `%${value}%` } }],
      },
    },
    project: { node: [{ id: {} }, { node_type: {} }, { label: {} }, { 'attributes.process_label': {} }] },
    order_by: [{ node: [{ id: { order: 'desc' } }] }],
    limit: 100,
  };
  navigate(`/search?q=${encodeURIComponent(JSON.stringify(query, null, 2))}`);
}

function header(): HTMLElement {
  const box = h('input', {
    type: 'search',
    placeholder: 'pk, uuid or label',
    'aria-label': 'Search',
    'data-testid': 'search',
  });
  const form = h(
    'form',
    {
      class: 'search',
      onsubmit: (event: Event) => {
        event.preventDefault();
        void search(box.value);
      },
    },
    box,
  );
  const tokenButton = h(
    'button',
    {
      class: 'btn',
      'data-testid': 'token-button',
      title: 'The token printed by `verdi web`, for pause/play/kill',
    },
    getToken() === '' ? 'token' : 'token ✓',
  );
  tokenButton.addEventListener('click', () => {
    const value = prompt('Control token (printed by `verdi web` at start); empty to forget it', getToken());
    if (value === null) return;
    setToken(value.trim());
    tokenButton.textContent = value.trim() === '' ? 'token' : 'token ✓';
    notify(value.trim() === '' ? 'Token forgotten' : 'Token saved in this browser');
  });
  const themeButton = h(
    'button',
    { class: 'btn', 'aria-label': 'Switch theme', 'data-testid': 'theme' },
    '◐',
  );
  themeButton.addEventListener('click', () => {
    const next = document.documentElement.dataset['theme'] === 'dark' ? 'light' : 'dark';
    localStorage.setItem(THEME_KEY, next);
    applyTheme(next);
  });
  return h(
    'header',
    { class: 'top' },
    link('/', h('strong', {}, 'aiida-ts'), { class: 'brand' }),
    h('nav', {}, link('/', 'Processes'), link('/groups', 'Groups'), link('/search', 'Query')),
    form,
    tokenButton,
    themeButton,
  );
}

applyTheme(
  localStorage.getItem(THEME_KEY) ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'),
);
route('/', processListView);
route('/processes', processListView);
route('/processes/:id', processView);
route('/nodes/:id', nodeView);
route('/graph/:id', graphView);
route('/groups', groupsView);
route('/groups/:id', groupView);
route('/search', searchView);
const app = document.getElementById('app') ?? document.body;
const main = h('main', { id: 'main' });
app.replaceChildren(header(), main);
start(main);
