import type { TopLevelSpec } from 'vega-lite';
import type { VegaLiteSpec } from './render.js';
import { FIGURE_HEIGHT, FIGURE_WIDTH, PALETTE } from './theme.js';

export { table, type TableColumn, type TableSpec } from './table.js';

/** A data row: field name → value. Figures read the fields named in their options. */
export type Row = Record<string, unknown>;

export type ScaleType = 'linear' | 'log' | 'symlog';

export interface AxisOptions {
  /** Row field plotted on this axis. */
  field: string;
  /** Axis title in words, e.g. "training step". */
  title: string;
  /** Unit shown after the title in parentheses, e.g. "nats". */
  unit?: string;
  /** Default linear. Rows whose value is not a finite number (or, on a log axis, not positive) are dropped. */
  scale?: ScaleType;
  /** Force the axis to include zero (linear only); default false: the data decide. */
  zero?: boolean;
  /** d3-format string for tick labels, e.g. "~s" or ".0%". */
  format?: string;
}

interface FigureBase {
  title: string;
  /** One line, or several. */
  subtitle?: string | string[];
  /**
   * Whole-figure size in px, axes, title and legend included; default 500 × 320 (a plot
   * area of about 430 × 240). Fixed outer sizes keep figures aligned in the report grid.
   */
  width?: number;
  height?: number;
}

export interface LineChartOptions extends FigureBase {
  x: AxisOptions;
  y: AxisOptions;
  /** Field naming the series (one line and one colour each); the legend appears only if there are several. */
  series?: string;
  data: readonly Row[];
  /** Shade between two fields of the same rows, e.g. mean ± one standard deviation. */
  band?: { lower: string; upper: string };
  /** Mark every data point too (for short series). */
  points?: boolean;
  /**
   * Field that is `false` on rows whose value did not converge (a solver that missed its
   * certificate: an estimate, not a result). Those points are drawn hollow and the segments into
   * and out of them dashed, whatever `points` says, and the subtitle says so. Rows without the
   * field, or with any other value, count as converged.
   */
  converged?: string;
}

export interface SortedCurveOptions extends FigureBase {
  /** One descending curve per entry; values are sorted here, NaN/∞ dropped. */
  curves: readonly { name: string; values: ArrayLike<number> }[];
  y: Omit<AxisOptions, 'field'>;
  x?: {
    title?: string;
    scale?: ScaleType;
    /** Plot rank / n in (0, 1] so curves of different lengths line up. */
    normalize?: boolean;
  };
  /** Curves longer than this are thinned (keeping both ends); sorted curves lose nothing visible. Default 400. */
  maxPoints?: number;
}

export interface ScatterOrLineOptions extends FigureBase {
  x: AxisOptions;
  y: AxisOptions;
  series?: string;
  data: readonly Row[];
  /** "line" connects the points in `order` (default: x); default "line". */
  mode?: 'line' | 'points' | 'both';
  /** Field giving the order in which points are joined, e.g. "step". */
  order?: string;
  /** Draw the dashed identity line y = x as a reference. */
  diagonal?: boolean;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Lines per series over a shared x axis, with an optional shaded band. */
export function lineChart(o: LineChartOptions): VegaLiteSpec {
  const rows = cleanRows(o.data, o.x, o.y, o.band);
  const color = colorEncoding(o.series, rows);
  const layer: Layer[] = [];
  if (o.band) {
    // The band's colour goes on `fill` and its transparency on fillOpacity (not opacity), so
    // the legend vega merges from both layers still shows solid line swatches.
    const fill = color.color ? { fill: color.color } : {};
    layer.push({
      mark: { type: 'area', fillOpacity: 0.18, ...(color.color ? {} : { color: PALETTE[0] }) },
      encoding: { y: { field: o.band.lower, type: 'quantitative' as const }, y2: { field: o.band.upper }, ...fill },
    });
  }
  const unconverged = o.converged ? rows.filter((r) => r[o.converged!] === false).length : 0;
  if (unconverged === 0) {
    layer.push({
      mark: { type: 'line', point: o.points ?? false },
      encoding: { y: axisEncoding(o.y, rows), ...color },
    });
  } else {
    layer.push(...unconvergedLayers(o, rows, color));
  }
  return checked({
    $schema: SCHEMA,
    ...frame(unconverged === 0 ? o : { ...o, subtitle: [o.subtitle, UNCONVERGED_NOTE].filter((t): t is string => Boolean(t)) }),
    data: { values: rows },
    encoding: { x: axisEncoding(o.x, rows) },
    layer,
  });
}

/** What a figure with unconverged values says under its title. */
export const UNCONVERGED_NOTE = 'hollow points, dashed lines: solver not converged (estimates)';
/** Row fields the unconverged layers add to their copies of the rows. */
const SEGMENT = '_segment';
const DASHED = '_dashed';

/**
 * A line chart's marks when some values did not converge: each series cut into runs of solid and
 * of dashed segments (a segment is dashed when either end is unconverged), filled points for the
 * converged values (if `points`) and hollow ones for the unconverged, always.
 */
function unconvergedLayers(o: LineChartOptions, rows: readonly Row[], color: ReturnType<typeof colorEncoding>): Layer[] {
  const key = o.converged!;
  const ok = (r: Row) => r[key] !== false;
  const y = axisEncoding(o.y, rows);
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const g = o.series ? String(r[o.series]) : '';
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(r);
  }
  const segments: Row[] = [];
  let id = 0;
  for (const g of groups.values()) {
    const sorted = [...g].sort((a, b) => (a[o.x.field] as number) - (b[o.x.field] as number));
    let current: boolean | null = null;
    for (let i = 1; i < sorted.length; i++) {
      const dashed = !ok(sorted[i - 1]) || !ok(sorted[i]);
      if (dashed !== current) {
        id += 1;
        current = dashed;
        segments.push({ ...sorted[i - 1], [SEGMENT]: id, [DASHED]: dashed });
      }
      segments.push({ ...sorted[i], [SEGMENT]: id, [DASHED]: dashed });
    }
  }
  const field = JSON.stringify(key);
  const line = (dashed: boolean): Layer => ({
    data: { values: segments.filter((r) => r[DASHED] === dashed) },
    mark: dashed ? { type: 'line', strokeDash: [5, 4] } : { type: 'line' },
    encoding: { y, ...color, detail: { field: SEGMENT, type: 'nominal' as const } },
  });
  const layers: Layer[] = [line(false), line(true)];
  if (o.points) {
    layers.push({ transform: [{ filter: `datum[${field}] !== false` }], mark: { type: 'point', filled: true }, encoding: { y, ...color } });
  }
  layers.push({
    transform: [{ filter: `datum[${field}] === false` }],
    mark: { type: 'point', filled: false, fill: 'white', fillOpacity: 1, opacity: 1, size: 48, strokeWidth: 1.75 },
    encoding: { y, ...color },
  });
  return layers;
}

/**
 * Values sorted in descending order against their rank (1 = largest), one line per curve:
 * the shape of a distribution at a glance, e.g. switches per data point, sorted.
 */
export function sortedCurve(o: SortedCurveOptions): VegaLiteSpec {
  const maxPoints = Math.max(2, o.maxPoints ?? 400);
  const normalize = o.x?.normalize ?? false;
  const xScale = o.x?.scale ?? 'linear';
  const data: Row[] = [];
  for (const curve of o.curves) {
    const sorted = Array.from(curve.values)
      .filter((v) => Number.isFinite(v))
      .sort((a, b) => b - a);
    const n = sorted.length;
    for (const i of sampleRanks(n, maxPoints, xScale === 'log')) {
      data.push({ series: curve.name, rank: normalize ? (i + 1) / n : i + 1, value: sorted[i] });
    }
  }
  return lineChart({
    title: o.title,
    subtitle: o.subtitle,
    width: o.width,
    height: o.height,
    data,
    series: o.curves.length > 0 ? 'series' : undefined,
    x: {
      field: 'rank',
      title: o.x?.title ?? (normalize ? 'rank / n (largest first)' : 'rank (largest first)'),
      scale: xScale,
      format: normalize ? '.0%' : undefined,
    },
    y: { field: 'value', ...o.y },
  });
}

/**
 * y against x, as joined points, dots or both, with an optional y = x reference line,
 * e.g. cumulative loss against cumulative Taylor-optimal loss.
 */
export function scatterOrLine(o: ScatterOrLineOptions): VegaLiteSpec {
  const mode = o.mode ?? 'line';
  const rows = cleanRows(o.data, o.x, o.y);
  const color = colorEncoding(o.series, rows);
  const layer: Layer[] = [];
  if (o.diagonal && rows.length > 0) {
    const [lo, hi] = extent(rows.flatMap((r) => [r[o.x.field] as number, r[o.y.field] as number]));
    layer.push({
      data: { values: [lo, hi].map((v) => ({ [o.x.field]: v, [o.y.field]: v })) },
      mark: { type: 'line', color: '#8c959f', strokeDash: [4, 4], strokeWidth: 1 },
    });
  }
  const order = o.order ? { order: { field: o.order, type: 'quantitative' as const } } : {};
  layer.push({
    mark:
      mode === 'points'
        ? { type: 'point' }
        : { type: 'line', point: mode === 'both' ? { filled: true, size: 18 } : false },
    encoding: { ...color, ...(mode === 'points' ? {} : order) },
  });
  return checked({
    $schema: SCHEMA,
    ...frame(o),
    data: { values: rows },
    encoding: { x: axisEncoding(o.x, rows), y: axisEncoding(o.y, rows) },
    layer,
  });
}

// ---------------------------------------------------------------------------------------

/** Specs are checked against vega-lite's types here, and leave as VegaLiteSpec (see render.ts). */
function checked(spec: TopLevelSpec): VegaLiteSpec {
  return spec;
}

// vega-lite only exports TopLevelSpec publicly; derive the layered pieces from it.
type LayeredSpec = Extract<TopLevelSpec, { layer: unknown }>;
type Layer = LayeredSpec['layer'][number];

function frame(o: FigureBase) {
  return {
    title: o.subtitle ? { text: o.title, subtitle: o.subtitle } : o.title,
    width: o.width ?? FIGURE_WIDTH,
    height: o.height ?? FIGURE_HEIGHT,
    autosize: { type: 'fit' as const, contains: 'padding' as const },
  };
}

function axisTitle(a: Pick<AxisOptions, 'title' | 'unit'>): string {
  return a.unit ? `${a.title} (${a.unit})` : a.title;
}

function axisEncoding(a: AxisOptions, rows: readonly Row[]) {
  const type = a.scale ?? 'linear';
  // vega's symlog ticks are linear-spaced and bunch up, and its log ticks label a mix of
  // 1s, 2s and 5s; label 1-2-5 steps and whole decades instead.
  const range = () => extent(rows.map((r) => r[a.field] as number));
  const values = type === 'symlog' ? symlogTicks(range()) : type === 'log' ? decadeTicks(range()) : undefined;
  return {
    field: a.field,
    type: 'quantitative' as const,
    title: axisTitle(a),
    scale: type === 'log' ? { type } : { type, zero: a.zero ?? false, nice: type === 'linear' },
    axis: { ...(a.format ? { format: a.format } : {}), ...(values ? { values } : {}) },
  };
}

/** Powers of ten spanning [lo, hi] (the log scale is niced to decades), if there are at least three. */
function decadeTicks([lo, hi]: [number, number]): number[] | undefined {
  if (!(lo > 0 && lo <= hi)) return undefined;
  const from = Math.floor(Math.log10(lo));
  const to = Math.ceil(Math.log10(hi));
  if (to - from < 2) return undefined;
  const step = Math.ceil((to - from + 1) / 7); // at most ~7 labels
  const ticks: number[] = [];
  for (let p = from; p <= to; p += step) ticks.push(Number(`1e${p}`));
  return ticks;
}

/** 0 and ±1-2-5 steps (or ±powers of ten when those get crowded) covering [lo, hi]. */
function symlogTicks([lo, hi]: [number, number]): number[] {
  const side = (max: number): number[] => {
    const steps: number[] = [];
    for (let p = 1; p <= max * 1.0001 && steps.length < 60; p *= 10) steps.push(p, 2 * p, 5 * p);
    const within = steps.filter((v) => v <= max * 1.0001);
    if (within.length <= 7) return within;
    const decades = within.filter((_, i) => i % 3 === 0);
    return decades.length <= 7 ? decades : decades.filter((_, i) => i % 2 === 0);
  };
  if (!(lo <= hi)) return [];
  const neg = lo < 0 ? side(-lo).map((v) => -v).reverse() : [];
  return [...neg, ...(lo <= 0 && hi >= 0 ? [0] : []), ...(hi > 0 ? side(hi) : [])];
}

/** Colour by series, keeping the data's order; the legend only earns its space with ≥ 2 series. */
function colorEncoding(series: string | undefined, rows: readonly Row[]) {
  if (!series) return {};
  const labels = [...new Set(rows.map((r) => String(r[series])))];
  const n = labels.length;
  // Wrap the legend into as many columns as fit the figure's width, so no entry is cut off.
  const widest = Math.max(...labels.map((l) => l.length));
  const columns = Math.max(1, Math.min(n, Math.floor(460 / (widest * 6.5 + 44))));
  return { color: { field: series, type: 'nominal' as const, sort: null, legend: n > 1 ? { columns } : null } };
}

/**
 * Drops rows whose x or y is not a finite number (or not positive on a log axis). On a log
 * y axis a band's lower edge at or below zero is clipped to the smallest plotted value, as
 * matplotlib does, so the band runs off the bottom instead of vanishing.
 */
function cleanRows(data: readonly Row[], x: AxisOptions, y: AxisOptions, band?: { lower: string; upper: string }): Row[] {
  const ok = (v: unknown, scale: ScaleType | undefined) =>
    typeof v === 'number' && Number.isFinite(v) && (scale !== 'log' || v > 0);
  const rows = data.filter((r) => ok(r[x.field], x.scale) && ok(r[y.field], y.scale));
  if (!band || y.scale !== 'log') return rows;
  const [floor] = extent(rows.flatMap((r) => [r[y.field], r[band.lower], r[band.upper]]).filter((v): v is number => ok(v, 'log')));
  return rows.map((r) => {
    const lower = Number(r[band.lower]);
    return ok(lower, 'log') ? r : { ...r, [band.lower]: floor };
  });
}

/** Indices 0…n−1 to plot: all of them, or ≤ max spread evenly (geometrically for a log x axis). */
function sampleRanks(n: number, max: number, log: boolean): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const picked = new Set<number>();
  for (let k = 0; k < max; k++) {
    const t = k / (max - 1);
    picked.add(Math.round(log ? Math.exp(t * Math.log(n)) - 1 : t * (n - 1)));
  }
  picked.add(n - 1);
  return [...picked].sort((a, b) => a - b);
}

/** [min, max] without spreading (long series would overflow the call stack). */
function extent(values: readonly number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}
