/// <reference lib="dom" />
import { get, type NodeRow, type ProcessRow } from '../api.js';
import { controlButtons, stateBadge } from '../controls.js';
import { ago, className, h, replace } from '../dom.js';
import { notify } from '../notify.js';
import { link } from '../router.js';
import { card, facts, linkTable } from './common.js';
import { fileList } from './node-view.js';

interface CallTree {
  process: ProcessRow;
  link_label: string | null;
  calls: CallTree[];
}

interface ReportEntry {
  time: string;
  levelname: string;
  message: string;
  process_pk: number;
}

/** An attribute as text: strings as they are, anything else as JSON. */
function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function treeItem(tree: CallTree): HTMLElement {
  return h(
    'li',
    { 'data-pk': tree.process.id },
    h(
      'span',
      { class: 'tree-row' },
      link(
        `/processes/${tree.process.id}`,
        `${tree.process.process_label ?? className(tree.process.node_type)}<${tree.process.id}>`,
      ),
      tree.link_label === null ? '' : h('span', { class: 'muted' }, ` ${tree.link_label} `),
      stateBadge(tree.process),
    ),
    tree.calls.length === 0 ? null : h('ul', {}, ...tree.calls.map(treeItem)),
  );
}

/** One process: state, exit code, the CalcJob's job, call tree, inputs, outputs, report and controls; live. */
export function processView(root: HTMLElement, params: Record<string, string>): () => void {
  const id = params['id'] ?? '';
  const header = h('div');
  const tree = h('div', { 'data-testid': 'call-tree' }, 'Loading…');
  const inputs = h('div', {}, 'Loading…');
  const outputs = h('div', {}, 'Loading…');
  const report = h('div', {}, 'Loading…');
  const files = h('div');
  root.append(
    header,
    h('div', { class: 'grid' }, card('Call tree', tree), card('Report', report)),
    h('div', { class: 'grid' }, card('Inputs', inputs), card('Outputs', outputs)),
    files,
  );
  let pk = 0;
  const load = async (): Promise<void> => {
    const [process] = (await get<{ processes: ProcessRow[] }>(`/processes/${id}`)).processes;
    if (process === undefined) return;
    pk = process.id;
    document.title = `${process.process_label ?? 'Process'}<${process.id}> · aiida-ts`;
    const isJob = process.node_type.startsWith('process.calculation.calcjob.');
    const attributes = isJob
      ? (await get<{ attributes: Record<string, unknown> }>(`/nodes/${pk}/contents/attributes`)).attributes
      : {};
    replace(
      header,
      h(
        'section',
        { class: 'card' },
        h(
          'div',
          { class: 'toolbar' },
          h(
            'h2',
            { 'data-testid': 'process-title' },
            `${process.process_label ?? className(process.node_type)}<${process.id}>`,
          ),
          stateBadge(process),
          controlButtons(process, notify),
          link(`/graph/${process.id}`, 'Graph', { class: 'btn', 'data-testid': 'graph-link' }),
          link(`/nodes/${process.id}`, 'Node', { class: 'btn' }),
        ),
        facts([
          ['uuid', process.uuid],
          ['type', process.process_type ?? process.node_type],
          ['created', `${ago(process.ctime)} (${new Date(process.ctime).toLocaleString()})`],
          ['status', process.process_status],
          ['exit code', process.exit_status === null ? null : String(process.exit_status)],
          ['exit message', process.exit_message],
          ['CalcJob step', isJob ? text(attributes['state']) : null],
          ['job id', isJob ? text(attributes['job_id']) : null],
          ['scheduler state', isJob ? text(attributes['scheduler_state']) : null],
          ['remote folder', isJob ? text(attributes['remote_workdir']) : null],
        ]),
      ),
    );
    const calls = await get<{ tree: CallTree; truncated: boolean }>(`/processes/${pk}/calls`);
    replace(
      tree,
      h('ul', { class: 'tree' }, treeItem(calls.tree)),
      calls.truncated ? h('p', { class: 'muted' }, 'Truncated.') : null,
    );
    replace(
      inputs,
      linkTable(
        (await get<{ incoming: NodeRow[] }>(`/nodes/${pk}/links/incoming?orderby=id`)).incoming,
        'inputs',
      ),
    );
    replace(
      outputs,
      linkTable(
        (await get<{ outgoing: NodeRow[] }>(`/nodes/${pk}/links/outgoing?orderby=id`)).outgoing,
        'outputs',
      ),
    );
    const logs = (await get<{ logs: ReportEntry[] }>(`/processes/${pk}/full_report`)).logs;
    replace(
      report,
      logs.length === 0
        ? h('p', { class: 'muted' }, 'No log messages.')
        : h(
            'div',
            { class: 'scroll report' },
            h(
              'table',
              { class: 'list', 'data-testid': 'report' },
              h(
                'tbody',
                {},
                ...logs.map((log) =>
                  h(
                    'tr',
                    {},
                    h('td', { class: 'muted nowrap' }, new Date(log.time).toLocaleTimeString()),
                    h('td', {}, h('span', { class: `level level-${log.levelname}` }, log.levelname)),
                    h('td', {}, link(`/processes/${log.process_pk}`, String(log.process_pk))),
                    h('td', { class: 'message' }, log.message),
                  ),
                ),
              ),
            ),
          ),
    );
    if (isJob)
      replace(
        files,
        h(
          'div',
          { class: 'grid' },
          card('Input files', await fileList(pk, '', 'calcjobs', 'input_files')),
          card('Retrieved files', await fileList(pk, '', 'calcjobs', 'output_files')),
        ),
      );
  };
  load().catch((error: unknown) => {
    replace(header, h('section', { class: 'card error', 'data-testid': 'error' }, (error as Error).message));
  });
  // follow the process and its children live: reload (at most every half second) when one of them changes
  const events = new EventSource('/api/v4/processes/events');
  let pending: ReturnType<typeof setTimeout> | undefined;
  events.addEventListener('process', (event) => {
    const { process } = JSON.parse((event as MessageEvent<string>).data) as { process: NodeRow };
    const inTree = process.id === pk || tree.querySelector(`li[data-pk="${process.id}"]`) !== null;
    if (!inTree && !(pk !== 0 && process.id > pk)) return;
    if (pending !== undefined) return;
    pending = setTimeout(() => {
      pending = undefined;
      void load().catch(() => undefined);
    }, 300);
  });
  return () => {
    events.close();
    if (pending !== undefined) clearTimeout(pending);
  };
}
