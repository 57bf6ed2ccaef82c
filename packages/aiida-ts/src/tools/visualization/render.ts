import { ValidationError } from '../../errors.js';

/** The output formats `verdi node graph generate -f` writes. */
export const GRAPH_FORMATS = ['dot', 'canon', 'svg', 'png'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

/** The Graphviz layout engines of the WebAssembly build. */
export const GRAPH_ENGINES = ['dot', 'neato', 'fdp', 'sfdp', 'circo', 'twopi', 'osage', 'patchwork'] as const;
export type GraphEngine = (typeof GRAPH_ENGINES)[number];

/**
 * Renders DOT source: `dot` returns it as it is, `canon` and `svg` lay it out with Graphviz compiled to WebAssembly
 * (no system Graphviz needed), `png` rasterises that SVG with resvg using the system's fonts, so labels keep their
 * width. Both libraries are loaded only when a picture is asked for.
 */
export async function renderGraph(
  dot: string,
  format: GraphFormat,
  engine: GraphEngine = 'dot',
): Promise<Buffer> {
  if (format === 'dot') return Buffer.from(dot, 'utf8');
  if (!(GRAPH_ENGINES as readonly string[]).includes(engine))
    throw new ValidationError(
      `unknown Graphviz engine \`${engine}\`: choose from ${GRAPH_ENGINES.join(', ')}`,
    );
  const { Graphviz } = await import('@hpcc-js/wasm-graphviz');
  const graphviz = await Graphviz.load();
  const layout = graphviz.layout(dot, format === 'canon' ? 'canon' : 'svg', engine);
  if (format !== 'png') return Buffer.from(layout, 'utf8');
  const { Resvg } = await import('@resvg/resvg-js');
  const image = new Resvg(layout, {
    background: 'white',
    font: {
      loadSystemFonts: true,
      defaultFontFamily: 'DejaVu Sans',
      serifFamily: 'DejaVu Serif',
      sansSerifFamily: 'DejaVu Sans',
    },
  });
  return Buffer.from(image.render().asPng());
}
