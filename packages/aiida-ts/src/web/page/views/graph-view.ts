/// <reference lib="dom" />
import { get, type NodeRow } from '../api.js';
import { className, h, replace, s } from '../dom.js';
import { navigate } from '../router.js';

interface GraphPiece {
  nodes: NodeRow[];
  links: { source: number; target: number; label: string; type: string }[];
  incomplete: { incoming: number; outgoing: number };
}

interface Vertex {
  row: NodeRow;
  layer: number;
  order: number;
  expanded: boolean;
  x: number;
  y: number;
}

const LAYER_GAP = 230;
const ROW_GAP = 64;
const NODE_W = 170;
const NODE_H = 40;

/** The fill of a node, as `verdi node graph generate` colours them: processes by state, data by kind. */
export function nodeColour(row: NodeRow): string {
  if (!row.node_type.startsWith('process.')) return 'var(--g-data)';
  const state = String(row.process_state);
  if (row.paused === true) return 'var(--g-paused)';
  if (state === 'finished')
    return row.exit_status === 0 || row.exit_status === null ? 'var(--g-finished)' : 'var(--g-failed)';
  if (state === 'excepted' || state === 'killed') return 'var(--g-failed)';
  if (state === 'running') return 'var(--g-running)';
  if (state === 'waiting') return 'var(--g-waiting)';
  return 'var(--g-created)';
}

/** The interactive provenance graph around a node: pan, zoom, click to expand, double-click to open. */
export function graphView(root: HTMLElement, params: Record<string, string>): () => void {
  const start = params['id'] ?? '';
  const vertices = new Map<number, Vertex>();
  const links = new Map<string, GraphPiece['links'][number]>();
  const svg = s('svg', {
    class: 'graph',
    'data-testid': 'graph',
    role: 'img',
    'aria-label': 'Provenance graph',
  });
  const scene = s('g');
  svg.append(scene);
  const highlight = h('input', {
    type: 'search',
    placeholder: 'highlight classes, e.g. Int, WorkChainNode',
    'aria-label': 'Highlight classes',
    'data-testid': 'highlight',
  });
  const info = h('span', { class: 'muted', 'data-testid': 'graph-info' });
  let view = { x: -60, y: -200, scale: 1 };
  const applyView = (): void =>
    scene.setAttribute(
      'transform',
      `translate(${-view.x * view.scale},${-view.y * view.scale}) scale(${view.scale})`,
    );

  const draw = (): void => {
    // layout: each layer a column, nodes in the order they arrived
    const byLayer = new Map<number, Vertex[]>();
    for (const vertex of vertices.values())
      byLayer.set(vertex.layer, [...(byLayer.get(vertex.layer) ?? []), vertex]);
    for (const [layer, column] of byLayer) {
      column.sort((a, b) => a.order - b.order);
      column.forEach((vertex, index) => {
        vertex.x = layer * LAYER_GAP;
        vertex.y = (index - (column.length - 1) / 2) * ROW_GAP;
      });
    }
    const wanted = highlight.value
      .split(/[\s,]+/)
      .filter((word) => word !== '')
      .map((word) => word.toLowerCase());
    scene.replaceChildren();
    const edges = s('g', { class: 'edges' });
    for (const edge of links.values()) {
      const from = vertices.get(edge.source);
      const to = vertices.get(edge.target);
      if (from === undefined || to === undefined) continue;
      const x1 = from.x + NODE_W / 2;
      const x2 = to.x - NODE_W / 2;
      const path = s('path', {
        d: `M${x1},${from.y} C${(x1 + x2) / 2},${from.y} ${(x1 + x2) / 2},${to.y} ${x2},${to.y}`,
        class: `edge edge-${edge.type}`,
        'marker-end': 'url(#arrow)',
      });
      const label = s(
        'text',
        { x: (x1 + x2) / 2, y: (from.y + to.y) / 2 - 4, class: 'edge-label' },
        edge.label,
      );
      edges.append(path, label);
    }
    const nodes = s('g', { class: 'nodes' });
    for (const vertex of vertices.values()) {
      const row = vertex.row;
      const isProcess = row.node_type.startsWith('process.');
      const name = isProcess ? (row.process_label ?? className(row.node_type)) : className(row.node_type);
      const classes = [className(row.node_type).toLowerCase(), String(row.process_label ?? '').toLowerCase()];
      const lit = wanted.length === 0 || wanted.some((word) => classes.includes(word));
      const group = s('g', {
        class: `vertex${vertex.expanded ? ' expanded' : ''}${lit ? '' : ' dim'}${wanted.length > 0 && lit ? ' lit' : ''}`,
        transform: `translate(${vertex.x},${vertex.y})`,
        'data-pk': row.id,
        tabindex: 0,
      });
      const shape = isProcess
        ? s('rect', {
            x: -NODE_W / 2,
            y: -NODE_H / 2,
            width: NODE_W,
            height: NODE_H,
            rx: row.node_type.startsWith('process.workflow.') ? 14 : 2,
            fill: nodeColour(row),
          })
        : s('ellipse', { rx: NODE_W / 2, ry: NODE_H / 2, fill: nodeColour(row) });
      const title = s(
        'title',
        {},
        `${name}<${row.id}> ${row.node_type}${isProcess ? ` ${String(row.process_state)}` : ''}\nclick: expand · double-click: open`,
      );
      group.append(
        shape,
        title,
        s('text', { y: -3, class: 'v-name' }, `${name.slice(0, 22)}`),
        s(
          'text',
          { y: 12, class: 'v-pk' },
          `<${row.id}>${isProcess ? ` ${String(row.process_state ?? '')}` : row.label === '' ? '' : ` ${row.label.slice(0, 14)}`}`,
        ),
      );
      group.addEventListener('click', (event) => {
        event.stopPropagation();
        void expand(row.id);
      });
      group.addEventListener('dblclick', (event) => {
        event.stopPropagation();
        navigate(isProcess ? `/processes/${row.id}` : `/nodes/${row.id}`);
      });
      group.addEventListener('keydown', (event) => {
        if (event.key === 'Enter') navigate(isProcess ? `/processes/${row.id}` : `/nodes/${row.id}`);
        if (event.key === ' ') void expand(row.id);
      });
      nodes.append(group);
    }
    const defs = s(
      'defs',
      {},
      s(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: 10,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: 'auto-start-reverse',
        },
        s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' }),
      ),
    );
    scene.append(defs, edges, nodes);
    info.textContent = `${vertices.size} nodes, ${links.size} links`;
    svg.dataset['nodes'] = String(vertices.size);
    applyView();
  };

  let order = 0;
  const expand = async (pk: number): Promise<void> => {
    const centre = vertices.get(pk);
    if (centre?.expanded === true) return;
    const piece = await get<GraphPiece>(`/nodes/${pk}/links/tree?tree_in_limit=40&tree_out_limit=40`);
    const layer = centre?.layer ?? 0;
    for (const row of piece.nodes) {
      const existing = vertices.get(row.id);
      if (existing !== undefined) {
        existing.row = row;
        continue;
      }
      const isInput = piece.links.some((edge) => edge.source === row.id && edge.target === pk);
      vertices.set(row.id, {
        row,
        layer: row.id === pk ? layer : isInput ? layer - 1 : layer + 1,
        order: order++,
        expanded: false,
        x: 0,
        y: 0,
      });
    }
    const expanded = vertices.get(pk);
    if (expanded !== undefined) expanded.expanded = true;
    for (const edge of piece.links) links.set(`${edge.source}-${edge.target}-${edge.label}`, edge);
    draw();
  };

  // pan with the pointer, zoom with the wheel (or the buttons), around the pointer
  let drag: { x: number; y: number; view: typeof view } | undefined;
  svg.addEventListener('pointerdown', (event) => {
    if (event.target instanceof Element && event.target.closest('.vertex') !== null) return;
    drag = { x: event.clientX, y: event.clientY, view: { ...view } };
    svg.setPointerCapture(event.pointerId);
  });
  svg.addEventListener('pointermove', (event) => {
    if (drag === undefined) return;
    view = {
      ...drag.view,
      x: drag.view.x - (event.clientX - drag.x) / view.scale,
      y: drag.view.y - (event.clientY - drag.y) / view.scale,
    };
    applyView();
  });
  svg.addEventListener('pointerup', () => (drag = undefined));
  const zoom = (factor: number, cx: number, cy: number): void => {
    const scale = Math.min(4, Math.max(0.15, view.scale * factor));
    const worldX = view.x + cx / view.scale;
    const worldY = view.y + cy / view.scale;
    view = { scale, x: worldX - cx / scale, y: worldY - cy / scale };
    applyView();
    svg.dataset['scale'] = scale.toFixed(2);
  };
  svg.addEventListener(
    'wheel',
    (event) => {
      event.preventDefault();
      const box = svg.getBoundingClientRect();
      zoom(event.deltaY < 0 ? 1.15 : 1 / 1.15, event.clientX - box.left, event.clientY - box.top);
    },
    { passive: false },
  );
  const fit = (): void => {
    const box = svg.getBoundingClientRect();
    const xs = [...vertices.values()].map((vertex) => vertex.x);
    const ys = [...vertices.values()].map((vertex) => vertex.y);
    if (xs.length === 0) return;
    const width = Math.max(...xs) - Math.min(...xs) + NODE_W + 40;
    const height = Math.max(...ys) - Math.min(...ys) + NODE_H + 40;
    const scale = Math.min(2, Math.max(0.15, Math.min(box.width / width, box.height / height)));
    view = {
      scale,
      x: Math.min(...xs) - NODE_W / 2 - 20 - (box.width / scale - width) / 2,
      y: Math.min(...ys) - NODE_H / 2 - 20 - (box.height / scale - height) / 2,
    };
    applyView();
  };
  highlight.addEventListener('input', draw);
  root.append(
    h(
      'section',
      { class: 'card' },
      h(
        'div',
        { class: 'toolbar' },
        h('h2', {}, 'Provenance graph'),
        highlight,
        h(
          'button',
          {
            class: 'btn',
            onclick: () => zoom(1.25, svg.clientWidth / 2, svg.clientHeight / 2),
            'aria-label': 'Zoom in',
          },
          '+',
        ),
        h(
          'button',
          {
            class: 'btn',
            onclick: () => zoom(0.8, svg.clientWidth / 2, svg.clientHeight / 2),
            'aria-label': 'Zoom out',
          },
          '−',
        ),
        h('button', { class: 'btn', onclick: fit, 'data-testid': 'fit' }, 'Fit'),
        info,
      ),
      h(
        'p',
        { class: 'muted hint' },
        'Click a node to show its inputs and outputs; double-click to open it; drag to pan; wheel to zoom.',
      ),
      svg,
      h(
        'div',
        { class: 'legend' },
        ...[
          ['data', 'var(--g-data)'],
          ['created', 'var(--g-created)'],
          ['waiting', 'var(--g-waiting)'],
          ['running', 'var(--g-running)'],
          ['paused', 'var(--g-paused)'],
          ['finished', 'var(--g-finished)'],
          ['failed / excepted / killed', 'var(--g-failed)'],
        ].map(([name = '', colour = '']) => h('span', {}, h('i', { style: `background:${colour}` }), name)),
      ),
    ),
  );
  expand(Number.isNaN(Number(start)) ? 0 : Number(start))
    .then(fit)
    .catch(async () => {
      // a uuid in the address: find the pk first
      try {
        const [node] = (await get<{ nodes: NodeRow[] }>(`/nodes/${start}`)).nodes;
        if (node !== undefined) await expand(node.id);
        fit();
      } catch (error) {
        replace(
          root,
          h('section', { class: 'card error', 'data-testid': 'error' }, (error as Error).message),
        );
      }
    });
  return () => undefined;
}
