// Report renderer: plugins hand in sections of Vega-Lite figures and tables; the core turns
// them into one self-contained HTML file. Nothing here knows about any particular plugin.
export {
  lineChart,
  sortedCurve,
  scatterOrLine,
  type Row,
  type ScaleType,
  type AxisOptions,
  type LineChartOptions,
  type SortedCurveOptions,
  type ScatterOrLineOptions,
} from './figures.js';
export { table, type TableColumn, type TableSpec } from './table.js';
export { escapeHtml, formatNumber } from './format.js';
export { renderSvg, type RenderOptions, type VegaLiteSpec } from './render.js';
export {
  buildReport,
  writeReport,
  type Report,
  type ReportSection,
  type ReportFigure,
  type BuildReportOptions,
} from './html.js';
export { theme, PALETTE } from './theme.js';
