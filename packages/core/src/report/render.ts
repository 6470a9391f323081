import type * as Vega from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import { vegaTextWidth } from './text-metrics.js';
import { theme } from './theme.js';

/**
 * A Vega-Lite spec as core's public types name it. vega and vega-lite are optional peers (only
 * rendering needs them), so the declarations a library user compiles against must not import
 * vega-lite's types: figures.ts checks its specs against them and hands them on as this.
 */
export type VegaLiteSpec = object;

export interface RenderOptions {
  /**
   * Prefix for every `id` in the SVG (clip paths, gradients). Several SVGs inlined in one
   * page share one id namespace, and vega numbers ids per process, so reports set this.
   */
  idPrefix?: string;
}

type WidthFn = (item: object, text: unknown) => number;
interface TextMetrics {
  width: WidthFn;
  estimateWidth: WidthFn;
}

interface Renderer {
  vega: typeof Vega;
  compile: typeof import('vega-lite').compile;
}
let renderer: Promise<Renderer> | null = null;

/**
 * vega and vega-lite are optional peers of @taylorlens/core (the CLI package brings them): a library
 * user who never renders a report does not install them. Loaded on first use.
 */
function loadRenderer(): Promise<Renderer> {
  renderer ??= (async () => {
    try {
      const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
      // Without node-canvas vega falls back to a crude 0.8 em/glyph estimate; swap in a
      // better estimate, but keep real measurement if canvas happens to be installed.
      const metrics = (vega as unknown as { textMetrics?: TextMetrics }).textMetrics;
      if (metrics && metrics.width === metrics.estimateWidth) metrics.width = vegaTextWidth;
      return { vega, compile: vegaLite.compile };
    } catch (e) {
      renderer = null;
      throw new Error(`rendering report figures needs the packages vega and vega-lite (optional peer dependencies of @taylorlens/core, installed with @taylorlens/cli): npm install vega vega-lite (${(e as Error).message})`);
    }
  })();
  return renderer;
}

/** Reports are self-contained: data must be inline, so any load is refused (and remembered). */
function offlineLoader(vega: typeof Vega, refused: string[]): Vega.Loader {
  const refuse = (what: string) => {
    refused.push(what);
    return Promise.reject(new Error(`refused to load ${what}`));
  };
  return { ...vega.loader(), load: refuse, sanitize: refuse, http: refuse, file: refuse };
}

/**
 * Compiles a Vega-Lite spec and renders it to a standalone SVG string in Node: no DOM,
 * no canvas, no network. The house theme sits under the spec's own `config`.
 * Rejects if vega reports an error (e.g. a spec asking to load remote data).
 */
export async function renderSvg(spec: VegaLiteSpec, options: RenderOptions = {}): Promise<string> {
  const { vega, compile } = await loadRenderer();
  const vgSpec = compile(spec as TopLevelSpec, { config: theme }).spec;
  const errors: string[] = [];
  const warnings: string[] = [];
  const refused: string[] = [];
  const logger = vega.logger(vega.Warn, undefined, (method, _level, args) => {
    (method === 'error' ? errors : warnings).push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '));
  });
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none', loader: offlineLoader(vega, refused), logger });
  try {
    await view.runAsync();
    const svg = await view.toSVG();
    if (refused.length > 0) throw new Error(`report figures must inline their data (asked for ${refused.join(', ')})`);
    if (errors.length > 0) throw new Error(`figure failed to render: ${errors.join('; ')}`);
    // Warnings (e.g. an empty field) usually mean a plugin's spec is off: say so, but keep the figure.
    for (const w of warnings) console.warn(`[taylorlens report] ${w}`);
    return options.idPrefix ? scopeSvgIds(svg, options.idPrefix) : svg;
  } finally {
    view.finalize();
  }
}

/** Rewrites `id="x"` and its references (`url(#x)`, `href="#x"`) to `prefix + x`. */
export function scopeSvgIds(svg: string, prefix: string): string {
  const ids = new Set<string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) ids.add(m[1]!);
  if (ids.size === 0) return svg;
  const scoped = (id: string) => (ids.has(id) ? prefix + id : id);
  return svg
    .replace(/(\sid=")([^"]+)"/g, (_m, head: string, id: string) => `${head}${scoped(id)}"`)
    .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${scoped(id)})`)
    .replace(/(href=")#([^"]+)"/g, (_m, head: string, id: string) => `${head}#${scoped(id)}"`);
}
