/** The page's style sheet: light and dark themes through CSS variables, one column on a phone. */
export const PAGE_CSS = `
:root, [data-theme="light"] {
  --bg: #f5f6f8; --fg: #1d2330; --muted: #667085; --card: #ffffff; --line: #dde1e7; --accent: #2f6fde;
  --accent-fg: #ffffff; --danger: #c9354d; --flash: #fff4c2; --code: #f0f2f5;
  --g-data: #9fd3f5; --g-created: #d6d9de; --g-waiting: #f3d46b; --g-running: #f0a35e; --g-paused: #b9a5e8;
  --g-finished: #8fd49c; --g-failed: #ec8a98; --g-line: #556070;
}
[data-theme="dark"] {
  --bg: #12151b; --fg: #e4e7ee; --muted: #98a2b3; --card: #1b2029; --line: #2d3440; --accent: #6ea1ff;
  --accent-fg: #0b0e13; --danger: #ff6b81; --flash: #3a3418; --code: #151920;
  --g-data: #3a6d90; --g-created: #4a4f58; --g-waiting: #8a7420; --g-running: #9b5a22; --g-paused: #5e4b95;
  --g-finished: #2f7a43; --g-failed: #9a3443; --g-line: #a4adbb;
}
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header.top { display: flex; gap: 12px; align-items: center; padding: 8px 16px; background: var(--card); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 5; flex-wrap: wrap; }
header.top nav { display: flex; gap: 12px; }
header.top .brand { font-size: 16px; color: var(--fg); }
header.top form.search { flex: 1; min-width: 160px; }
header.top form.search input { width: 100%; }
main { padding: 16px; max-width: 1400px; margin: 0 auto; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin-bottom: 16px; min-width: 0; }
.card h2, .card h3 { margin: 0 8px 8px 0; font-size: 16px; }
.card.error, p.error { color: var(--danger); }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.grid > .card { margin-bottom: 0; }
.grid { margin-bottom: 16px; }
.toolbar { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; margin-bottom: 8px; }
.toolbar h2 { margin: 0 8px 0 0; }
input, select, textarea, .btn { font: inherit; color: var(--fg); background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 5px 9px; }
textarea { width: 100%; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; }
.btn { cursor: pointer; background: var(--card); white-space: nowrap; display: inline-block; }
.btn:hover { border-color: var(--accent); text-decoration: none; }
.btn.primary { background: var(--accent); color: var(--accent-fg); border-color: var(--accent); }
.btn.danger { color: var(--danger); }
.controls { display: inline-flex; gap: 4px; }
.controls .btn { padding: 2px 7px; font-size: 12px; }
.linklike { background: none; border: none; color: var(--accent); cursor: pointer; font: inherit; padding: 2px 0; text-align: left; }
.scroll { overflow-x: auto; }
table.list { border-collapse: collapse; width: 100%; }
table.list th, table.list td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
table.list th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
table.list tr.clickable { cursor: pointer; }
table.list tr.clickable:hover { background: var(--code); }
table.list tr.flash { background: var(--flash); transition: background 1.5s; }
table.array td { font-family: ui-monospace, monospace; text-align: right; }
td.status { color: var(--muted); max-width: 360px; }
td.message { white-space: pre-wrap; word-break: break-word; }
.muted { color: var(--muted); }
.nowrap { white-space: nowrap; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; background: var(--g-created); color: var(--fg); white-space: nowrap; }
.state-waiting { background: var(--g-waiting); }
.state-running { background: var(--g-running); }
.state-paused { background: var(--g-paused); }
.state-finished { background: var(--g-finished); }
.state-failed, .state-excepted, .state-killed { background: var(--g-failed); }
.live { font-size: 12px; color: var(--muted); margin-left: auto; }
.live.on { color: #2f9e52; }
.level { font-size: 11px; font-weight: 600; }
.level-ERROR, .level-CRITICAL { color: var(--danger); }
.level-WARNING { color: #c48a0a; }
.report { max-height: 360px; overflow-y: auto; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; word-break: break-all; }
pre.json, pre.file { background: var(--code); border-radius: 6px; padding: 8px; overflow: auto; max-height: 420px; font-size: 12px; margin: 0; }
ul.tree, ul.tree ul { list-style: none; padding-left: 18px; margin: 2px 0; }
ul.tree { padding-left: 0; }
ul.tree li { margin: 3px 0; }
.tree-row { display: inline-flex; gap: 6px; align-items: center; flex-wrap: wrap; }
ul.filelist { list-style: none; padding: 0; margin: 0 0 8px; columns: 2; }
.viewer img.preview { max-width: 100%; max-height: 420px; image-rendering: pixelated; min-width: 64px; border: 1px solid var(--line); background: repeating-conic-gradient(#ccc 0 25%, #fff 0 50%) 0 0/16px 16px; }
svg.graph { width: 100%; height: 62vh; min-height: 320px; background: var(--code); border-radius: 6px; touch-action: none; cursor: grab; display: block; }
svg.graph .edge { fill: none; stroke: var(--g-line); stroke-width: 1.4; }
svg.graph .edge-call_calc, svg.graph .edge-call_work { stroke-dasharray: 6 3; }
svg.graph .edge-return { stroke-dasharray: 2 3; }
svg.graph .arrow { fill: var(--g-line); }
svg.graph .edge-label { font-size: 10px; fill: var(--muted); text-anchor: middle; }
svg.graph .vertex { cursor: pointer; }
svg.graph .vertex rect, svg.graph .vertex ellipse { stroke: var(--g-line); stroke-width: 1; }
svg.graph .vertex.expanded rect, svg.graph .vertex.expanded ellipse { stroke-width: 2.5; }
svg.graph .vertex.lit rect, svg.graph .vertex.lit ellipse { stroke: var(--accent); stroke-width: 4; }
svg.graph .vertex.dim { opacity: .3; }
svg.graph .vertex text { text-anchor: middle; font-size: 11px; fill: var(--fg); pointer-events: none; }
svg.graph .vertex .v-name { font-weight: 600; }
.legend { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 8px; font-size: 12px; color: var(--muted); }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 4px; vertical-align: -2px; border: 1px solid var(--g-line); }
#toasts { position: fixed; bottom: 16px; right: 16px; display: flex; flex-direction: column; gap: 8px; z-index: 10; }
.toast { background: var(--card); border: 1px solid var(--line); border-left: 4px solid #2f9e52; padding: 8px 12px; border-radius: 6px; box-shadow: 0 2px 8px rgba(0,0,0,.15); max-width: 420px; }
.toast.error { border-left-color: var(--danger); }
@media (max-width: 760px) {
  main { padding: 8px; }
  .grid { grid-template-columns: 1fr; }
  header.top { gap: 8px; padding: 8px; }
  header.top form.search { order: 5; flex-basis: 100%; }
  table.list th, table.list td { padding: 5px 6px; }
  table[data-testid=process-table] td.status, table[data-testid=process-table] td.owner,
  table[data-testid=process-table] th:nth-child(5), table[data-testid=process-table] th:nth-child(6) { display: none; }
  ul.filelist { columns: 1; }
  svg.graph { height: 55vh; }
}
.structure { width: 100%; min-height: 240px; color: var(--g-line); touch-action: none; }
.structure canvas { display: block; max-width: 100%; cursor: grab; }
.legend { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 8px; }
.legend .element i { display: inline-block; width: 12px; height: 12px; border-radius: 50%; margin-right: 4px; vertical-align: -1px; border: 1px solid var(--line); }
`;
