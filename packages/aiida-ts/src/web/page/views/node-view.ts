/// <reference lib="dom" />
import { fileUrl, get, type NodeRow } from '../api.js';
import { ago, className, h, replace } from '../dom.js';
import { readNpy } from '../npy.js';
import type * as StructureViewer from '../structure-viewer.js';
import { link } from '../router.js';
import { card, facts, jsonBlock, linkTable } from './common.js';

interface RepoEntry {
  name: string;
  type: 'FILE' | 'DIRECTORY';
}

const IMAGE = /\.(png|jpe?g|gif|webp|svg)$/i;
const MAX_TABLE_CELLS = 2_000;

/** Shows one file of a node: images as images, anything else as text (the first 200 kB). */
async function showFile(viewer: HTMLElement, pk: number, path: string): Promise<void> {
  const download = h(
    'a',
    {
      href: fileUrl(pk, path, true),
      download: path.split('/').pop() ?? path,
      class: 'btn',
      'data-testid': 'download',
    },
    'download',
  );
  if (IMAGE.test(path)) {
    replace(
      viewer,
      h('div', { class: 'toolbar' }, h('strong', {}, path), download),
      h('img', { src: fileUrl(pk, path, false), alt: path, class: 'preview', 'data-testid': 'image-viewer' }),
    );
    return;
  }
  const response = await fetch(fileUrl(pk, path, false));
  const type = response.headers.get('content-type') ?? '';
  const bytes = await response.arrayBuffer();
  const isText =
    type.startsWith('text/') ||
    type.includes('json') ||
    type.includes('yaml') ||
    type.includes('xml') ||
    type.startsWith('chemical/');
  replace(
    viewer,
    h(
      'div',
      { class: 'toolbar' },
      h('strong', {}, path),
      h('span', { class: 'muted' }, `${type}, ${bytes.byteLength} bytes`),
      download,
    ),
    isText
      ? h(
          'pre',
          { class: 'file', 'data-testid': 'text-viewer' },
          new TextDecoder().decode(bytes.slice(0, 200_000)),
        )
      : h('p', { class: 'muted' }, 'A binary file: download it to look at it.'),
  );
}

/** The files of a node's repository (or of a CalcJob's inputs or retrieved files), browsable, with a viewer. */
export async function fileList(
  pk: number,
  folder: string,
  resource: 'nodes' | 'calcjobs' = 'nodes',
  which = 'repo/list',
): Promise<HTMLElement> {
  const box = h('div', { class: 'files' });
  const viewer = h('div', { class: 'viewer' });
  const show = async (path: string): Promise<void> => {
    const query = path === '' ? '' : `?filename=${encodeURIComponent(`"${path}"`)}`;
    let entries: RepoEntry[];
    let owner = pk;
    if (resource === 'calcjobs' && which === 'output_files') {
      const outgoing = (
        await get<{ outgoing: NodeRow[] }>(
          `/nodes/${pk}/links/outgoing?node_type=${encodeURIComponent('"data.core.folder.FolderData."')}`,
        )
      ).outgoing;
      const retrieved = outgoing.find((row) => row.link_label === 'retrieved');
      if (retrieved === undefined) {
        replace(box, h('p', { class: 'muted' }, 'Not retrieved yet.'));
        return;
      }
      owner = retrieved.id;
      entries = (await get<{ repo_list: RepoEntry[] }>(`/nodes/${owner}/repo/list${query}`)).repo_list;
    } else if (resource === 'calcjobs')
      entries = await get<RepoEntry[]>(`/calcjobs/${pk}/input_files${query}`);
    else entries = (await get<{ repo_list: RepoEntry[] }>(`/nodes/${pk}/repo/list${query}`)).repo_list;
    const up =
      path === ''
        ? null
        : h(
            'li',
            {},
            h(
              'button',
              { class: 'linklike', onclick: () => void show(path.split('/').slice(0, -1).join('/')) },
              '.. (up)',
            ),
          );
    replace(
      box,
      entries.length === 0 && path === ''
        ? h('p', { class: 'muted' }, 'No files.')
        : h(
            'ul',
            { class: 'filelist', 'data-testid': 'files' },
            up,
            ...entries.map((entry) => {
              const full = path === '' ? entry.name : `${path}/${entry.name}`;
              return h(
                'li',
                {},
                h(
                  'button',
                  {
                    class: 'linklike',
                    'data-file': full,
                    onclick: () =>
                      void (entry.type === 'DIRECTORY' ? show(full) : showFile(viewer, owner, full)),
                  },
                  entry.type === 'DIRECTORY' ? `${entry.name}/` : entry.name,
                ),
              );
            }),
          ),
      viewer,
    );
  };
  await show(folder);
  return box;
}

/** A numpy array as a table (2-D as rows and columns, 1-D as one column). */
function arrayTable(shape: number[], values: unknown[]): HTMLElement {
  if (values.length > MAX_TABLE_CELLS)
    return h(
      'p',
      { class: 'muted' },
      `${values.length} values, shape (${shape.join(', ')}): too many to show.`,
    );
  const columns = shape.length >= 2 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
  const rows: unknown[][] = [];
  for (let index = 0; index < values.length; index += columns)
    rows.push(values.slice(index, index + columns));
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      { class: 'list array', 'data-testid': 'array-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, '#'),
          ...Array.from({ length: columns }, (_, index) => h('th', {}, String(index))),
        ),
      ),
      h(
        'tbody',
        {},
        ...rows.map((row, index) =>
          h('tr', {}, h('th', {}, String(index)), ...row.map((value) => h('td', {}, String(value)))),
        ),
      ),
    ),
  );
}

type StructureModule = typeof StructureViewer;

/** Where the node view loads the structure view from (a bundle of its own, see page-assets.ts). */
const STRUCTURE_MODULE = '/assets/structure.js';

/**
 * The 3D view of a StructureData: loaded on demand (three.js is large), drawn once the card is in the page (it sizes
 * itself to the card), with a legend of the elements; without WebGL, a note (the sites are in the attributes).
 */
function structureCard(attributes: Record<string, unknown>): HTMLElement {
  const canvas = h('div', { class: 'structure', 'data-testid': 'structure-view' }, 'Loading the 3D view…');
  const legend = h('div', { class: 'legend', 'data-testid': 'structure-legend' });
  const sites = Array.isArray(attributes['sites']) ? attributes['sites'].length : 0;
  const box = card(
    `Structure (${sites} site${sites === 1 ? '' : 's'}: drag to rotate, wheel to zoom)`,
    canvas,
    legend,
  );
  const draw = async (): Promise<void> => {
    // a URL held in a variable: esbuild leaves the import to the browser instead of bundling the module here
    const url: string = STRUCTURE_MODULE;
    const module = (await import(url)) as StructureModule;
    const view = module.mountStructure(canvas, attributes);
    replace(
      legend,
      ...view.legend.map(({ symbol, color }) =>
        h('span', { class: 'element' }, h('i', { style: `background:${color}` }), symbol),
      ),
    );
  };
  requestAnimationFrame(() => {
    draw().catch((error: unknown) =>
      replace(
        canvas,
        h(
          'p',
          { class: 'muted' },
          `No 3D view here (${(error as Error).message}); the sites are in the attributes.`,
        ),
      ),
    );
  });
  return box;
}

/** One node: its fields, attributes, extras, comments, files, arrays, inputs and outputs. */
export function nodeView(root: HTMLElement, params: Record<string, string>): void {
  const id = params['id'] ?? '';
  const load = async (): Promise<void> => {
    const [node] = (await get<{ nodes: NodeRow[] }>(`/nodes/${id}`)).nodes;
    if (node === undefined) return;
    const pk = node.id;
    document.title = `${className(node.node_type)}<${pk}> · aiida-ts`;
    const [attributes, extras, comments, incoming, outgoing] = await Promise.all([
      get<{ attributes: Record<string, unknown> }>(`/nodes/${pk}/contents/attributes`),
      get<{ extras: Record<string, unknown> }>(`/nodes/${pk}/contents/extras`),
      get<{ comments: string[] }>(`/nodes/${pk}/contents/comments`),
      get<{ incoming: NodeRow[] }>(`/nodes/${pk}/links/incoming?orderby=id`),
      get<{ outgoing: NodeRow[] }>(`/nodes/${pk}/links/outgoing?orderby=id`),
    ]);
    const arrays = Object.entries(attributes.attributes).filter(([key]) => key.startsWith('array|'));
    const arrayCards: HTMLElement[] = [];
    for (const [key] of arrays) {
      const name = key.slice('array|'.length);
      try {
        const response = await fetch(fileUrl(pk, `${name}.npy`, false));
        const array = readNpy(await response.arrayBuffer());
        arrayCards.push(
          card(`Array ${name} (${array.shape.join(' × ')})`, arrayTable(array.shape, array.values)),
        );
      } catch (error) {
        arrayCards.push(card(`Array ${name}`, h('p', { class: 'muted' }, (error as Error).message)));
      }
    }
    replace(
      root,
      h(
        'section',
        { class: 'card' },
        h(
          'div',
          { class: 'toolbar' },
          h('h2', { 'data-testid': 'node-title' }, `${className(node.node_type)}<${pk}>`),
          node.node_type.startsWith('process.') ? link(`/processes/${pk}`, 'Process', { class: 'btn' }) : '',
          link(`/graph/${pk}`, 'Graph', { class: 'btn', 'data-testid': 'graph-link' }),
        ),
        facts([
          ['uuid', node.uuid],
          ['type', node.node_type],
          ['label', node.label],
          ['created', `${ago(node.ctime)} (${new Date(String(node.ctime)).toLocaleString()})`],
          ['modified', new Date(String(node.mtime)).toLocaleString()],
        ]),
      ),
      node.node_type.startsWith('data.core.structure.') ? structureCard(attributes.attributes) : '',
      h(
        'div',
        { class: 'grid' },
        card('Attributes', jsonBlock(attributes.attributes, 'attributes')),
        card('Extras', jsonBlock(extras.extras, 'extras')),
      ),
      ...arrayCards,
      card('Files', await fileList(pk, '')),
      comments.comments.length === 0
        ? ''
        : card('Comments', h('ul', {}, ...comments.comments.map((text) => h('li', {}, text)))),
      h(
        'div',
        { class: 'grid' },
        card('Inputs', linkTable(incoming.incoming, 'inputs')),
        card('Outputs', linkTable(outgoing.outgoing, 'outputs')),
      ),
    );
  };
  root.append(h('p', {}, 'Loading…'));
  load().catch((error: unknown) =>
    replace(root, h('section', { class: 'card error', 'data-testid': 'error' }, (error as Error).message)),
  );
}
