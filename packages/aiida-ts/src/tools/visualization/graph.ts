import { ValidationError } from '../../errors.js';
// every node class registers itself when its module loads: load them all, so nodes come back as Int, Dict, …
import '../../orm.js';
import { LinkType } from '../../orm/links.js';
import { Data } from '../../orm/nodes/data/data.js';
import { loadNodesByPk, type Node } from '../../orm/nodes/node.js';
import { ProcessNode } from '../../orm/nodes/process/process.js';
import type { StorageBackend } from '../../storage/backend.js';
import { getStorage, type StorageOption } from '../../storage/context.js';

/** How a node is identified in its box: by pk, by the first block of its uuid, by its label (or several, `|`). */
export type NodeIdType = 'pk' | 'uuid' | 'label';
/** What an edge shows: nothing, the link label, the link type, or both (`TYPE\nlabel`). */
export type LinkAnnotation = 'label' | 'type' | 'both' | null;
/** Graphviz attributes of a node or edge. */
export type Style = Record<string, string | number>;

/** A link drawn as an edge. */
export interface GraphEdge {
  readonly source: number;
  readonly target: number;
  readonly linkType: LinkType;
  readonly label: string;
}

/** Options of a {@link Graph}. */
export interface GraphOptions extends StorageOption {
  /** Graphviz layout engine (default `dot`). */
  readonly engine?: string;
  readonly graphAttributes?: Style;
  readonly globalNodeStyle?: Style;
  readonly globalEdgeStyle?: Style;
  /** Second lines in the node boxes (values, formulas, process states). Default true. */
  readonly includeSublabels?: boolean;
  readonly nodeIdType?: NodeIdType | readonly NodeIdType[];
  /** Style nodes by class (aiida's `default_node_styles`, the default) or processes by state (`pstate_node_styles`). */
  readonly nodeStyle?: 'class' | 'processState' | ((node: Node) => Style);
}

/** Options of {@link Graph.recurseAncestors} and {@link Graph.recurseDescendants}. */
export interface RecurseOptions {
  /** How many links deep to follow (unset: all the way). */
  readonly depth?: number;
  readonly linkTypes?: readonly LinkType[];
  readonly annotateLinks?: LinkAnnotation;
  readonly originStyle?: Style;
  /** Only nodes whose class name (first word of their box) is listed keep their style; the rest are grey. */
  readonly highlightClasses?: readonly string[];
  /** Ancestors: also draw every output of the processes found. */
  readonly includeProcessOutputs?: boolean;
  /** Descendants: also draw every input of the processes found. */
  readonly includeProcessInputs?: boolean;
}

const ALL_LINK_TYPES: readonly LinkType[] = [
  LinkType.CREATE,
  LinkType.RETURN,
  LinkType.INPUT_CALC,
  LinkType.INPUT_WORK,
  LinkType.CALL_CALC,
  LinkType.CALL_WORK,
];

/** Graphviz style of each link type (aiida's `default_link_styles`). */
const LINK_STYLES: Readonly<Record<LinkType, Style>> = {
  input_calc: { style: 'solid', color: '#000000' },
  input_work: { style: 'dashed', color: '#000000' },
  call_calc: { style: 'dotted', color: '#000000' },
  call_work: { style: 'dotted', color: '#000000' },
  create: { style: 'solid', color: '#000000' },
  return: { style: 'dashed', color: '#000000' },
};

/** The style of nodes left out of `highlightClasses`. */
export const IGNORE_NODE_STYLE: Readonly<Style> = { color: 'lightgray', fillcolor: 'white', penwidth: 2 };
/** The style of the node a recursion starts from. */
export const ORIGIN_NODE_STYLE: Readonly<Style> = { color: 'red', penwidth: 6 };

const CLASS_STYLES: Readonly<Record<string, Style>> = {
  'data.core.code.Code.': { shape: 'ellipse', style: 'filled', fillcolor: '#4ca4b9aa', penwidth: 0 },
  'process.calculation.calcjob.CalcJobNode.': {
    shape: 'rectangle',
    style: 'filled',
    fillcolor: '#de707fff',
    penwidth: 0,
  },
  'process.calculation.calcfunction.CalcFunctionNode.': {
    shape: 'rectangle',
    style: 'filled',
    fillcolor: '#de707f77',
    penwidth: 0,
  },
  'process.workflow.workchain.WorkChainNode.': {
    shape: 'rectangle',
    style: 'filled',
    fillcolor: '#e38851ff',
    penwidth: 0,
  },
  'process.workflow.workfunction.WorkFunctionNode.': {
    shape: 'rectangle',
    style: 'filled',
    fillcolor: '#e38851ff',
    penwidth: 0,
  },
};

/** aiida's `default_node_styles`: data green ellipses, codes blue, calculations red and workflows orange boxes. */
export function defaultNodeStyle(node: Node): Style {
  return {
    ...(CLASS_STYLES[node.nodeType] ?? {
      shape: 'ellipse',
      style: 'filled',
      fillcolor: '#8cd499ff',
      penwidth: 0,
    }),
  };
}

const PROCESS_STATE_SHAPES: Readonly<Record<string, Style>> = {
  'process.calculation.calcjob.CalcJobNode.': {
    shape: 'ellipse',
    style: 'filled',
    penwidth: 0,
    fillcolor: '#ffffffff',
  },
  'process.calculation.calcfunction.CalcFunctionNode.': {
    shape: 'ellipse',
    style: 'filled',
    penwidth: 0,
    fillcolor: '#ffffffff',
  },
  'process.workflow.workchain.WorkChainNode.': {
    shape: 'polygon',
    sides: '6',
    style: 'filled',
    penwidth: 0,
    fillcolor: '#ffffffff',
  },
  'process.workflow.workfunction.WorkFunctionNode.': {
    shape: 'polygon',
    sides: '6',
    style: 'filled',
    penwidth: 0,
    fillcolor: '#ffffffff',
  },
};

/** aiida's `pstate_node_styles`: processes red when failed/excepted/killed, green when finished ok, else orange. */
export function processStateNodeStyle(node: Node): Style {
  const style: Style = {
    ...(PROCESS_STATE_SHAPES[node.nodeType] ?? { shape: 'rectangle', pencolor: 'black' }),
  };
  if (node instanceof ProcessNode) {
    if (node.isFailed || node.isExcepted || node.isKilled) style['fillcolor'] = '#de707fff';
    else if (node.isFinishedOk) style['fillcolor'] = '#8cd499ff';
    else style['fillcolor'] = '#e38851ff';
  }
  return style;
}

/** aiida's `default_node_sublabels`: the value of base types, formulas, computers, process state and exit code. */
export async function defaultNodeSublabel(node: Node): Promise<string> {
  const attributes = node.attributes.all();
  switch (node.nodeType) {
    case 'data.core.int.Int.':
    case 'data.core.float.Float.':
      return `value: ${pythonValue(attributes['value'])}`;
    case 'data.core.str.Str.':
    case 'data.core.bool.Bool.':
      return pythonValue(attributes['value']);
    case 'data.core.singlefile.SinglefileData.':
      return pythonValue(attributes['filename']);
    case 'data.core.remote.RemoteData.': {
      const computer = await node.getComputer();
      return computer === null ? '@?' : `@${computer.label}`;
    }
    case 'data.core.upf.UpfData.':
      return pythonValue(attributes['element']);
    default:
      break;
  }
  const formula = (node as Node & { getFormula?: () => string }).getFormula;
  if (node.nodeType === 'data.core.structure.StructureData.' && typeof formula === 'function')
    return formula.call(node);
  if (node instanceof ProcessNode) {
    const lines: string[] = [];
    if (node.processState !== null) lines.push(`State: ${node.processState}`);
    if (node.exitStatus !== null) lines.push(`Exit Code: ${node.exitStatus}`);
    return lines.join('\n');
  }
  return node.description;
}

/** A JS value as Python's `str()` prints it in a sublabel (`True`, `1.0` for floats stay as stored). */
function pythonValue(value: unknown): string {
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value);
}

function idLabel(node: Node, types: readonly NodeIdType[]): string {
  return types
    .map((type) =>
      type === 'pk' ? String(node.pk) : type === 'uuid' ? (node.uuid.split('-')[0] ?? '') : node.label,
    )
    .join('|');
}

/** The first line of a node's box: `<class or process label> (<identifier>)`. */
export function nodeBoxLabel(node: Node, types: readonly NodeIdType[] = ['pk']): string {
  if (node instanceof ProcessNode)
    return `${node.processLabel ?? node.constructor.name} (${idLabel(node, types)})`;
  if (node instanceof Data) return `${node.constructor.name} (${idLabel(node, types)})`;
  return `${node.constructor.name} (${idLabel(node, types)})`;
}

/** Quotes a DOT value the way Python's graphviz package does: bare when a plain identifier or number. */
function quote(value: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(value) || /^-?(\.\d+|\d+(\.\d*)?)$/.test(value)) return value;
  return `"${value.replace(/(?<!\\)"/g, '\\"')}"`;
}

/** `[label=… a=… b=…]`: the label first, then the other attributes in name order (as Python's graphviz writes). */
function attributeList(style: Style): string {
  const { label, ...rest } = style;
  const parts = label === undefined ? [] : [`label=${quote(String(label))}`];
  for (const key of Object.keys(rest).sort()) parts.push(`${quote(key)}=${quote(String(rest[key]))}`);
  return parts.length === 0 ? '' : ` [${parts.join(' ')}]`;
}

/**
 * A provenance graph to draw with Graphviz (aiida's `aiida.tools.visualization.Graph`): nodes and links added one
 * by one, from a node's direct neighbours, recursively from an origin, or from the result of a query, styled as
 * aiida-core styles them; written as DOT, or rendered to SVG or PNG without a system Graphviz
 * ({@link renderGraph}: Graphviz compiled to WebAssembly, and resvg for PNG).
 */
export class Graph {
  readonly engine: string;
  readonly #storage: StorageBackend;
  readonly #options: GraphOptions;
  readonly #idTypes: readonly NodeIdType[];
  readonly #nodes = new Map<number, Style>();
  readonly #edges = new Map<string, { edge: GraphEdge; style: Style }>();

  constructor(options: GraphOptions = {}) {
    this.#storage = getStorage(options);
    this.#options = options;
    this.engine = options.engine ?? 'dot';
    const ids = options.nodeIdType ?? 'pk';
    this.#idTypes = typeof ids === 'string' ? [ids] : ids;
    for (const type of this.#idTypes)
      if (type !== 'pk' && type !== 'uuid' && type !== 'label')
        throw new ValidationError(
          `\`${String(type)}\` is not a valid \`node_id_type\`, choose from: pk, uuid, label`,
        );
  }

  /** The pks of the nodes drawn. */
  get nodes(): ReadonlySet<number> {
    return new Set(this.#nodes.keys());
  }

  /** The links drawn. */
  get edges(): readonly GraphEdge[] {
    return [...this.#edges.values()].map((entry) => entry.edge);
  }

  /** The style a node is drawn with (for tests and custom output). */
  nodeStyle(pk: number): Readonly<Style> | undefined {
    return this.#nodes.get(pk);
  }

  #style(node: Node): Style {
    const choice = this.#options.nodeStyle ?? 'class';
    if (choice === 'class') return defaultNodeStyle(node);
    if (choice === 'processState') return processStateNodeStyle(node);
    return { ...choice(node) };
  }

  /** Adds a node (once; `overwrite` replaces its style), with `styleOverride` on top of its class style. */
  async addNode(node: Node, styleOverride: Style = {}, overwrite = false): Promise<void> {
    const pk = node.pk;
    if (pk === null) throw new ValidationError('cannot draw an unstored node');
    if (this.#nodes.has(pk) && !overwrite) return;
    const style = this.#style(node);
    const lines = [nodeBoxLabel(node, this.#idTypes)];
    if (this.#options.includeSublabels !== false) {
      const sublabel = await defaultNodeSublabel(node);
      if (sublabel !== '') lines.push(sublabel);
    }
    style['label'] = lines.join('\n');
    Object.assign(style, styleOverride, this.#options.globalNodeStyle ?? {});
    this.#nodes.set(pk, style);
  }

  /** Adds an edge between two nodes already in the graph. */
  addEdge(edge: GraphEdge, annotate: LinkAnnotation = null): void {
    if (!this.#nodes.has(edge.source))
      throw new ValidationError(`in_node pk=${edge.source} must have already been added to the graph`);
    if (!this.#nodes.has(edge.target))
      throw new ValidationError(`out_node pk=${edge.target} must have already been added to the graph`);
    const key = `${edge.source} ${edge.target} ${edge.linkType} ${edge.label}`;
    if (this.#edges.has(key)) return;
    const style: Style = { ...LINK_STYLES[edge.linkType] };
    const typeName = edge.linkType.toUpperCase();
    if (annotate === 'label') style['label'] = edge.label;
    else if (annotate === 'type') style['label'] = typeName;
    else if (annotate === 'both') style['label'] = `${typeName}\n${edge.label}`;
    Object.assign(style, this.#options.globalEdgeStyle ?? {});
    this.#edges.set(key, { edge, style });
  }

  /** The links of `types` from/to the nodes of `pks` in one direction, and the nodes at their far ends. */
  async #step(
    pks: readonly number[],
    direction: 'forward' | 'backward',
    types: readonly LinkType[],
  ): Promise<GraphEdge[]> {
    const edges: GraphEdge[] = [];
    if (pks.length === 0 || types.length === 0) return edges;
    for (let start = 0; start < pks.length; start += 5000) {
      const chunk = pks.slice(start, start + 5000);
      const rows = await this.#storage
        .executor()
        .selectFrom('db_dblink')
        .select(['input_id', 'output_id', 'label', 'type'])
        .where(direction === 'forward' ? 'input_id' : 'output_id', 'in', chunk)
        .where('type', 'in', [...types])
        .execute();
      for (const row of rows)
        edges.push({
          source: row.input_id,
          target: row.output_id,
          linkType: row.type as LinkType,
          label: row.label,
        });
    }
    return edges;
  }

  async #traverse(
    origin: number,
    direction: 'forward' | 'backward',
    types: readonly LinkType[],
    depth: number | undefined,
  ): Promise<{ nodes: Set<number>; edges: GraphEdge[] }> {
    const nodes = new Set([origin]);
    const edges: GraphEdge[] = [];
    let frontier = [origin];
    for (let level = 0; frontier.length > 0 && (depth === undefined || level < depth); level += 1) {
      const next: number[] = [];
      for (const edge of await this.#step(frontier, direction, types)) {
        edges.push(edge);
        const far = direction === 'forward' ? edge.target : edge.source;
        if (!nodes.has(far)) {
          nodes.add(far);
          next.push(far);
        }
      }
      frontier = next;
    }
    return { nodes, edges };
  }

  async #draw(
    origin: number | null,
    found: { nodes: Set<number>; edges: GraphEdge[] },
    options: RecurseOptions,
  ): Promise<void> {
    const nodes = await loadNodesByPk(
      [...found.nodes].sort((a, b) => a - b),
      { storage: this.#storage },
    );
    const byPk = new Map(nodes.map((node) => [node.pk!, node]));
    if (origin !== null) {
      const node = byPk.get(origin);
      if (node !== undefined) await this.addNode(node, options.originStyle ?? { ...ORIGIN_NODE_STYLE });
    }
    for (const node of nodes) {
      if (node.pk === origin) continue;
      const className = nodeBoxLabel(node).split(' ')[0] ?? '';
      const grey =
        options.highlightClasses !== undefined &&
        options.highlightClasses.length > 0 &&
        !options.highlightClasses.includes(className);
      await this.addNode(node, grey ? { ...IGNORE_NODE_STYLE } : {});
    }
    for (const edge of found.edges) this.addEdge(edge, options.annotateLinks ?? null);
  }

  /** Adds `node` and its direct neighbours over incoming links (of `linkTypes`, default all). */
  async addIncoming(
    node: Node,
    options: { linkTypes?: readonly LinkType[]; annotateLinks?: LinkAnnotation } = {},
  ): Promise<number[]> {
    const found = await this.#traverse(node.pk!, 'backward', options.linkTypes ?? ALL_LINK_TYPES, 1);
    await this.#draw(null, found, { annotateLinks: options.annotateLinks ?? null });
    return [...found.nodes];
  }

  /** Adds `node` and its direct neighbours over outgoing links (of `linkTypes`, default all). */
  async addOutgoing(
    node: Node,
    options: { linkTypes?: readonly LinkType[]; annotateLinks?: LinkAnnotation } = {},
  ): Promise<number[]> {
    const found = await this.#traverse(node.pk!, 'forward', options.linkTypes ?? ALL_LINK_TYPES, 1);
    await this.#draw(null, found, { annotateLinks: options.annotateLinks ?? null });
    return [...found.nodes];
  }

  /** Adds `origin` (drawn red) and everything it leads to, `depth` links deep. */
  async recurseDescendants(origin: Node, options: RecurseOptions = {}): Promise<void> {
    const found = await this.#traverse(
      origin.pk!,
      'forward',
      options.linkTypes ?? ALL_LINK_TYPES,
      options.depth,
    );
    if (options.includeProcessInputs === true) {
      for (const edge of await this.#step([...found.nodes], 'backward', [
        LinkType.INPUT_WORK,
        LinkType.INPUT_CALC,
      ])) {
        found.nodes.add(edge.source);
        found.edges.push(edge);
      }
    }
    await this.#draw(origin.pk, found, options);
  }

  /** Adds `origin` (drawn red) and everything that led to it, `depth` links deep. */
  async recurseAncestors(origin: Node, options: RecurseOptions = {}): Promise<void> {
    const found = await this.#traverse(
      origin.pk!,
      'backward',
      options.linkTypes ?? ALL_LINK_TYPES,
      options.depth,
    );
    if (options.includeProcessOutputs === true) {
      for (const edge of await this.#step([...found.nodes], 'forward', [LinkType.CREATE, LinkType.RETURN])) {
        found.nodes.add(edge.target);
        found.edges.push(edge);
      }
    }
    await this.#draw(origin.pk, found, options);
  }

  /**
   * Adds the nodes of a query result (pks, or rows whose first value is a pk) and the links among them: draws
   * what a QueryBuilder found.
   */
  async addQueryResult(
    rows: Iterable<number | readonly unknown[]>,
    options: { annotateLinks?: LinkAnnotation } = {},
  ): Promise<void> {
    const pks = new Set<number>();
    for (const row of rows) pks.add(Number(Array.isArray(row) ? row[0] : row));
    const edges = (await this.#step([...pks], 'forward', ALL_LINK_TYPES)).filter((edge) =>
      pks.has(edge.target),
    );
    await this.#draw(null, { nodes: pks, edges }, { annotateLinks: options.annotateLinks ?? 'both' });
  }

  /** The graph as DOT source, laid out as Python's graphviz writes it (nodes by pk, edges in a stable order). */
  toDot(): string {
    const lines = ['digraph {'];
    const graph = this.#options.graphAttributes;
    if (graph !== undefined && Object.keys(graph).length > 0) lines.push(`\tgraph${attributeList(graph)}`);
    for (const [pk, style] of [...this.#nodes.entries()].sort(([a], [b]) => a - b))
      lines.push(`\tN${pk}${attributeList(style)}`);
    const edges = [...this.#edges.values()].sort(
      (a, b) =>
        a.edge.source - b.edge.source ||
        a.edge.target - b.edge.target ||
        a.edge.linkType.localeCompare(b.edge.linkType) ||
        a.edge.label.localeCompare(b.edge.label),
    );
    for (const { edge, style } of edges)
      lines.push(`\tN${edge.source} -> N${edge.target}${attributeList(style)}`);
    lines.push('}');
    return `${lines.join('\n')}\n`;
  }
}
