/** Provenance graphs drawn with Graphviz: DOT, SVG and PNG. */
export {
  defaultNodeStyle,
  defaultNodeSublabel,
  Graph,
  IGNORE_NODE_STYLE,
  nodeBoxLabel,
  ORIGIN_NODE_STYLE,
  processStateNodeStyle,
  type GraphEdge,
  type GraphOptions,
  type LinkAnnotation,
  type NodeIdType,
  type RecurseOptions,
  type Style,
} from './graph.js';
export { GRAPH_ENGINES, GRAPH_FORMATS, renderGraph, type GraphEngine, type GraphFormat } from './render.js';
