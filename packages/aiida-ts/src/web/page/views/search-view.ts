/// <reference lib="dom" />
import { ApiError, post } from '../api.js';
import { h, replace } from '../dom.js';
import { link } from '../router.js';
import { card } from './common.js';

const EXAMPLE = {
  path: [
    {
      entity_type: 'process.workflow.workchain.WorkChainNode.',
      orm_base: 'node',
      tag: 'wf',
      joining_keyword: null,
      joining_value: null,
      edge_tag: null,
      outerjoin: false,
    },
  ],
  filters: { wf: { 'attributes.process_state': 'finished' } },
  project: { wf: [{ id: {} }, { 'attributes.process_label': {} }, { ctime: {} }] },
  order_by: [{ wf: [{ id: { order: 'desc' } }] }],
  limit: 50,
};

/** A QueryBuilder query in aiida's dictionary layout, or a quick filter on node type and label, and its results. */
export function searchView(root: HTMLElement): void {
  const params = new URLSearchParams(location.search);
  const text = h('textarea', { rows: 14, spellcheck: false, 'aria-label': 'Query', 'data-testid': 'query' });
  text.value = params.get('q') ?? JSON.stringify(EXAMPLE, null, 2);
  const results = h('div', { 'data-testid': 'results' });
  const run = async (): Promise<void> => {
    let query: unknown;
    try {
      query = JSON.parse(text.value);
    } catch (error) {
      replace(results, h('p', { class: 'error' }, `Not JSON: ${(error as Error).message}`));
      return;
    }
    try {
      const data = await post<Record<string, Record<string, unknown>[]>>('/querybuilder', query);
      replace(
        results,
        ...Object.entries(data).map(([tag, rows]) => {
          const keys = [...new Set(rows.flatMap((row) => Object.keys(row)))];
          return card(
            `${tag}: ${rows.length} rows`,
            h(
              'div',
              { class: 'scroll' },
              h(
                'table',
                { class: 'list' },
                h('thead', {}, h('tr', {}, ...keys.map((key) => h('th', {}, key)))),
                h(
                  'tbody',
                  {},
                  ...rows.map((row) =>
                    h(
                      'tr',
                      {},
                      ...keys.map((key) => {
                        const value = row[key];
                        if (key === 'id' && typeof value === 'number')
                          return h('td', {}, link(`/nodes/${value}`, String(value)));
                        return h(
                          'td',
                          {},
                          typeof value === 'object' && value !== null
                            ? JSON.stringify(value)
                            : typeof value === 'string'
                              ? value
                              : JSON.stringify(value ?? ''),
                        );
                      }),
                    ),
                  ),
                ),
              ),
            ),
          );
        }),
      );
    } catch (error) {
      replace(
        results,
        h(
          'p',
          { class: 'error' },
          error instanceof ApiError ? `${error.status}: ${error.message}` : String(error),
        ),
      );
    }
  };
  root.append(
    card(
      'QueryBuilder',
      h(
        'p',
        { class: 'muted' },
        "A query in aiida's QueryBuilder dictionary layout (QueryBuilder.as_dict()).",
      ),
      text,
      h(
        'div',
        { class: 'toolbar' },
        h('button', { class: 'btn primary', onclick: () => void run(), 'data-testid': 'run-query' }, 'Run'),
      ),
    ),
    results,
  );
  if (params.has('q')) void run();
}
