/** Reading a rendered report back: its figures (title, lines drawn, legend entries) and table rows. */
import fs from 'node:fs';
import path from 'node:path';

export interface FigureInfo {
  title: string;
  /** Line marks drawn: one `<path>` per series in vega's SVG. */
  lines: number;
  /** Legend entries, in order. */
  legend: string[];
  /** The series each line belongs to, from the lines' aria labels (`…; run: ae-mnist-adam`). */
  series: string[];
}

const text = (s: string) => s.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'");

/** Every figure of a report's HTML (from disk or Chromium's DOM). */
export function figures(html: string): FigureInfo[] {
  return [...html.matchAll(/<figure>([\s\S]*?)<\/figure>/g)].map(([, f]) => {
    const title = /class="mark-text role-title-text"[^>]*>\s*<text[^>]*>([^<]*)<\/text>/.exec(f)?.[1] ?? '';
    const lineLabels = [...f.matchAll(/<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="line mark"/g)].map((m) => text(m[1]));
    const legend = [...f.matchAll(/class="mark-text role-legend-label"[^>]*>\s*<text[^>]*>([^<]*)<\/text>/g)].map((m) => text(m[1]));
    // The series field is the last "key: value" of a line's aria label.
    const series = lineLabels.map((l) => l.split('; ').at(-1)!.split(': ').slice(1).join(': '));
    return { title: text(title), lines: lineLabels.length, legend, series };
  });
}

export function figure(all: FigureInfo[], title: string | RegExp): FigureInfo {
  const f = all.find((x) => (typeof title === 'string' ? x.title === title : title.test(x.title)));
  if (!f) throw new Error(`no figure titled ${String(title)}; figures: ${all.map((x) => JSON.stringify(x.title)).join(', ')}`);
  return f;
}

export function readJson<T = Record<string, any>>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

export function metricsRows(runDir: string): Record<string, any>[] {
  return fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
