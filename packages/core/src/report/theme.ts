import type { Config } from 'vega-lite';

/**
 * Okabe–Ito colours, ordered so the first few are the most distinct for all common
 * colour-vision deficiencies; yellow comes last because it is faint on white.
 */
export const PALETTE = [
  '#0072B2', // blue
  '#E69F00', // orange
  '#009E73', // bluish green
  '#D55E00', // vermillion
  '#CC79A7', // reddish purple
  '#56B4E9', // sky blue
  '#000000', // black
  '#F0E442', // yellow
] as const;

/** One font stack for charts and page, so SVG text matches the surrounding HTML. */
export const FONT_STACK = 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, DejaVu Sans, sans-serif';

/** Outer size of the figure helpers' charts (autosize "fit"). */
export const FIGURE_WIDTH = 500;
export const FIGURE_HEIGHT = 320;
/** Plot-area size for hand-written specs that set none. */
const PLOT_WIDTH = 420;
const PLOT_HEIGHT = 260;

const ink = '#1f2328';
const muted = '#57606a';

/** The house style; renderSvg applies it under every spec, so hand-written specs look alike too. */
export const theme = {
  font: FONT_STACK,
  background: 'white',
  padding: 8,
  view: { stroke: null, continuousWidth: PLOT_WIDTH, continuousHeight: PLOT_HEIGHT },
  title: {
    anchor: 'start',
    fontSize: 14,
    fontWeight: 600,
    color: ink,
    subtitleFontSize: 12,
    subtitleColor: muted,
    subtitlePadding: 4,
    offset: 12,
  },
  axis: {
    labelFontSize: 11,
    labelColor: muted,
    titleFontSize: 12,
    titleFontWeight: 500,
    titleColor: ink,
    titlePadding: 8,
    domainColor: '#8c959f',
    tickColor: '#8c959f',
    gridColor: '#eaeef2',
    labelFlush: true,
    labelOverlap: true,
  },
  // Fewer, rounder ticks than vega's one-per-40px default: these charts are read at a glance.
  axisX: { tickCount: 7 },
  axisY: { tickCount: 6 },
  legend: {
    orient: 'top',
    direction: 'horizontal',
    title: null,
    labelFontSize: 11,
    labelColor: ink,
    labelLimit: 240,
    symbolType: 'stroke',
    symbolStrokeWidth: 3,
    symbolSize: 160,
    columnPadding: 14,
    offset: 6,
  },
  range: { category: [...PALETTE] },
  mark: { color: PALETTE[0] },
  line: { strokeWidth: 1.8, strokeCap: 'round', strokeJoin: 'round' },
  point: { size: 22, filled: true, opacity: 0.8 },
} satisfies Config;
