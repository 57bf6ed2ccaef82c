/// <reference lib="dom" />
import { get, quote, type ProcessRow } from '../api.js';
import { controlButtons, stateBadge } from '../controls.js';
import { ago, h, replace } from '../dom.js';
import { notify } from '../notify.js';
import { link, navigate } from '../router.js';

const STATES = ['', 'active', 'created', 'waiting', 'running', 'finished', 'excepted', 'killed'];

function queryFor(state: string, label: string): string {
  const parts = ['orderby=-id', 'limit=200'];
  if (state === 'active')
    parts.push(`process_state=in=${quote('created')},${quote('waiting')},${quote('running')}`);
  else if (state !== '') parts.push(`process_state=${quote(state)}`);
  if (label !== '') parts.push(`process_label=ilike=${quote(`%${label}%`)}`);
  return parts.join('&');
}

function matches(row: ProcessRow, state: string, label: string): boolean {
  const current = String(row.process_state);
  if (state === 'active' && !['created', 'waiting', 'running'].includes(current)) return false;
  if (state !== '' && state !== 'active' && current !== state) return false;
  return (
    label === '' ||
    String(row.process_label ?? '')
      .toLowerCase()
      .includes(label.toLowerCase())
  );
}

/** The live list of processes: filters, and rows that change as the processes do (server-sent events). */
export function processListView(root: HTMLElement): () => void {
  const params = new URLSearchParams(location.search);
  let state = params.get('state') ?? '';
  let label = params.get('label') ?? '';
  const body = h('tbody', { 'data-testid': 'process-rows' });
  const live = h('span', { class: 'live', 'data-testid': 'live' }, 'connecting…');
  const rows = new Map<number, HTMLTableRowElement>();

  const rowOf = (process: ProcessRow): HTMLTableRowElement => {
    const tr = h(
      'tr',
      { 'data-pk': process.id, class: 'clickable', onclick: () => navigate(`/processes/${process.id}`) },
      h('td', {}, link(`/processes/${process.id}`, String(process.id))),
      h('td', { title: String(process.ctime) }, ago(process.ctime)),
      h('td', { class: 'label' }, process.process_label ?? process.label),
      h('td', {}, stateBadge(process)),
      h('td', { class: 'status' }, process.process_status ?? process.exit_message ?? ''),
      h('td', { class: 'owner' }, process.owner ?? ''),
      h('td', {}, controlButtons(process, notify)),
    );
    tr.dataset['mtime'] = String(process.mtime);
    return tr;
  };

  const PAGE = 200;
  const more = h('button', { class: 'btn', 'data-testid': 'more', hidden: true }, 'Show older processes');
  /** Appends the next page: processes older than the last row shown. */
  const loadOlder = async (): Promise<void> => {
    const oldest = Math.min(...rows.keys());
    const data = await get<{ processes: ProcessRow[] }>(`/processes?${queryFor(state, label)}&id<${oldest}`);
    for (const process of data.processes) {
      const tr = rowOf(process);
      rows.set(process.id, tr);
      body.append(tr);
    }
    more.hidden = data.processes.length < PAGE;
  };
  more.addEventListener(
    'click',
    () => void loadOlder().catch((error: unknown) => notify((error as Error).message, 'error')),
  );

  const load = async (): Promise<void> => {
    const history = `?${new URLSearchParams({ ...(state === '' ? {} : { state }), ...(label === '' ? {} : { label }) }).toString()}`;
    window.history.replaceState(null, '', history === '?' ? location.pathname : history);
    const data = await get<{ processes: ProcessRow[] }>(`/processes?${queryFor(state, label)}`);
    rows.clear();
    replace(
      body,
      ...data.processes.map((process) => {
        const tr = rowOf(process);
        rows.set(process.id, tr);
        return tr;
      }),
    );
    if (data.processes.length === 0)
      body.append(h('tr', { class: 'empty' }, h('td', { colspan: 7 }, 'No processes.')));
    more.hidden = data.processes.length < PAGE;
  };

  const stateSelect = h(
    'select',
    {
      'aria-label': 'State',
      'data-testid': 'state-filter',
      onchange: () => {
        state = stateSelect.value;
        void load();
      },
    },
    ...STATES.map((value) =>
      h('option', { value, selected: value === state }, value === '' ? 'all states' : value),
    ),
  );
  const labelInput = h('input', {
    type: 'search',
    placeholder: 'process label',
    value: label,
    'aria-label': 'Process label',
    oninput: () => {
      label = labelInput.value.trim();
      void load();
    },
  });
  root.append(
    h(
      'section',
      { class: 'card' },
      h('div', { class: 'toolbar' }, h('h2', {}, 'Processes'), stateSelect, labelInput, live),
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          { class: 'list', 'data-testid': 'process-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['PK', 'Created', 'Process label', 'State', 'Status', 'Owner', ''].map((text) =>
                h('th', {}, text),
              ),
            ),
          ),
          body,
        ),
      ),
      more,
    ),
  );
  load().catch((error: unknown) => notify((error as Error).message, 'error'));

  const events = new EventSource('/api/v4/processes/events');
  events.addEventListener('hello', (event) => {
    const hello = JSON.parse((event as MessageEvent<string>).data) as { broker: boolean };
    live.textContent = hello.broker ? '● live (broker)' : '● live (storage)';
    live.classList.add('on');
  });
  events.addEventListener('process', (event) => {
    const { process } = JSON.parse((event as MessageEvent<string>).data) as { process: ProcessRow };
    const existing = rows.get(process.id);
    if (!matches(process, state, label)) {
      existing?.remove();
      rows.delete(process.id);
      return;
    }
    const tr = rowOf(process);
    tr.classList.add('flash');
    if (existing === undefined) {
      body.querySelector('tr.empty')?.remove();
      body.prepend(tr);
    } else existing.replaceWith(tr);
    rows.set(process.id, tr);
  });
  events.onerror = () => {
    live.textContent = 'reconnecting…';
    live.classList.remove('on');
  };
  const timer = setInterval(() => {
    for (const tr of rows.values()) tr.classList.remove('flash');
  }, 2000);
  return () => {
    events.close();
    clearInterval(timer);
  };
}
