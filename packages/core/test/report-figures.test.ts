import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { lineChart, renderSvg, scatterOrLine, sortedCurve, PALETTE } from '../src/report/index.js';

const count = (svg: string, needle: string) => svg.split(needle).length - 1;
const LINE = 'aria-roledescription="line mark"';
const AREA = 'aria-roledescription="area mark"';

const steps = (n: number, f: (s: number) => number, extra: Record<string, unknown> = {}) =>
  Array.from({ length: n }, (_, s) => ({ step: s, loss: f(s), ...extra }));

describe('renderSvg', () => {
  it('runs without the canvas package (text is measured by estimate)', () => {
    const require = createRequire(import.meta.url);
    expect(() => require.resolve('canvas')).toThrow();
  });

  it('renders a line chart to standalone SVG with one line per series, titles and a legend', async () => {
    const spec = lineChart({
      title: 'Training loss',
      subtitle: 'two optimizers',
      x: { field: 'step', title: 'training step' },
      y: { field: 'loss', title: 'cross-entropy', unit: 'nats' },
      series: 'run',
      data: [...steps(20, (s) => 2 / (1 + s), { run: 'sgd' }), ...steps(20, (s) => 1.5 / (1 + s), { run: 'adam' })],
    });
    const svg = await renderSvg(spec);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(count(svg, LINE)).toBe(2);
    expect(count(svg, AREA)).toBe(0);
    for (const text of ['Training loss', 'two optimizers', 'training step', 'cross-entropy (nats)', 'sgd', 'adam']) {
      expect(svg).toContain(`>${text}</text>`);
    }
    expect(svg).toContain('role-legend');
    // Okabe–Ito palette, in order.
    expect(svg).toContain(`stroke="${PALETTE[0]}"`);
    expect(svg).toContain(`stroke="${PALETTE[1]}"`);
    expect(svg).not.toMatch(/<script|<foreignObject/i);
  });

  it('leaves the legend out for a single series and draws the band', async () => {
    const data = steps(30, (s) => Math.exp(-s / 10)).map((r) => ({ ...r, lo: r.loss * 0.8, hi: r.loss * 1.2 }));
    const svg = await renderSvg(
      lineChart({
        title: 'Switches per neuron',
        x: { field: 'step', title: 'epoch' },
        y: { field: 'loss', title: 'switches', scale: 'log' },
        series: 'layer',
        data: data.map((r) => ({ ...r, layer: 'dense_1' })),
        band: { lower: 'lo', upper: 'hi' },
      }),
    );
    expect(count(svg, LINE)).toBe(1);
    expect(count(svg, AREA)).toBe(1);
    expect(svg).not.toContain('role-legend');
    expect(svg).toContain('for a log scale');
  });

  it('drops rows a log axis cannot show and clips a band that reaches zero', async () => {
    const data = [
      { x: 1, y: 0, lo: -1, hi: 1 },
      { x: 2, y: 1, lo: -0.5, hi: 2 },
      { x: 3, y: 0.1, lo: 0.05, hi: 0.2 },
    ];
    const spec = lineChart({
      title: 'log',
      x: { field: 'x', title: 'x' },
      y: { field: 'y', title: 'y', scale: 'log' },
      data,
      band: { lower: 'lo', upper: 'hi' },
    });
    const values = (spec as { data: { values: Record<string, number>[] } }).data.values;
    expect(values.map((r) => r.x)).toEqual([2, 3]);
    expect(values[0]!.lo).toBe(0.05); // clipped to the smallest positive value plotted
    const svg = await renderSvg(spec);
    expect(svg).not.toContain('NaN');
  });

  it('sorts curves descending, ranks from 1, and thins long curves keeping both ends', async () => {
    const values = Array.from({ length: 5000 }, (_, i) => (i * 7919) % 5000);
    const spec = sortedCurve({
      title: 'Switches per data point, sorted',
      y: { title: 'switches' },
      curves: [
        { name: 'run A', values },
        { name: 'run B', values: new Float32Array([3, 1, 2, NaN]) },
      ],
      maxPoints: 100,
    });
    const rows = (spec as { data: { values: { series: string; rank: number; value: number }[] } }).data.values;
    const a = rows.filter((r) => r.series === 'run A');
    const b = rows.filter((r) => r.series === 'run B');
    expect(a.length).toBeLessThanOrEqual(100);
    expect(a[0]).toMatchObject({ rank: 1, value: 4999 });
    expect(a.at(-1)).toMatchObject({ rank: 5000, value: 0 });
    expect(a.every((r, i) => i === 0 || r.value <= a[i - 1]!.value)).toBe(true);
    expect(b.map((r) => [r.rank, r.value])).toEqual([
      [1, 3],
      [2, 2],
      [3, 1],
    ]);
    const svg = await renderSvg(spec);
    expect(count(svg, LINE)).toBe(2);
    expect(svg).toContain('>rank (largest first)</text>');
  });

  it('labels log axes by decade and symlog axes in 1-2-5 steps', () => {
    const yAxis = (spec: unknown) =>
      (spec as { layer: { encoding: { y: { axis: { values?: number[] } } } }[] }).layer.at(-1)!.encoding.y.axis.values;
    const log = lineChart({
      title: 'log',
      x: { field: 'step', title: 'step' },
      y: { field: 'loss', title: 'loss', scale: 'log' },
      data: steps(10, (s) => 0.002 * 10 ** (s / 3)),
    });
    expect(yAxis(log)).toEqual([0.001, 0.01, 0.1, 1, 10]);
    const symlog = sortedCurve({ title: 's', y: { title: 'n', scale: 'symlog' }, curves: [{ name: 'a', values: [0, 3, 60] }] });
    expect(yAxis(symlog)).toEqual([0, 1, 2, 5, 10, 20, 50]);
  });

  it('draws y against x with the identity reference line', async () => {
    const data = Array.from({ length: 50 }, (_, i) => ({ step: i, taylor: i * 0.9, actual: i * 1.1 + 2 }));
    const svg = await renderSvg(
      scatterOrLine({
        title: 'Cumulative loss vs Taylor-optimal',
        x: { field: 'taylor', title: 'cumulative Taylor-optimal loss' },
        y: { field: 'actual', title: 'cumulative loss' },
        data,
        order: 'step',
        diagonal: true,
      }),
    );
    expect(count(svg, LINE)).toBe(2); // data + diagonal
    expect(svg).toContain('stroke-dasharray="4,4"');
    const points = await renderSvg(
      scatterOrLine({ title: 'dots', x: { field: 'taylor', title: 'x' }, y: { field: 'actual', title: 'y' }, data, mode: 'points' }),
    );
    expect(count(points, LINE)).toBe(0);
    expect(count(points, 'aria-roledescription="point"')).toBe(50);
  });

  it('refuses to load data from anywhere (no network while rendering)', async () => {
    await expect(
      renderSvg({
        data: { url: 'https://example.invalid/data.json' },
        mark: 'line',
        encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'b', type: 'quantitative' } },
      }),
    ).rejects.toThrow(/inline their data/);
  });

  it('prefixes ids so several SVGs can share one page', async () => {
    // A mark clipped to a fixed domain makes vega emit a <clipPath id=…> referenced by url(#…).
    const svg = await renderSvg(
      {
        data: { values: steps(5, (s) => s) },
        mark: { type: 'line', clip: true },
        encoding: {
          x: { field: 'step', type: 'quantitative', scale: { domain: [0, 2] } },
          y: { field: 'loss', type: 'quantitative' },
        },
      },
      { idPrefix: 'fig7-' },
    );
    const ids = [...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((id) => id.startsWith('fig7-'))).toBe(true);
    for (const m of svg.matchAll(/url\(#([^)]+)\)/g)) expect(ids).toContain(m[1]);
  });

  it('escapes text that comes from data', async () => {
    const svg = await renderSvg(
      lineChart({
        title: '</svg><script>alert(1)</script>',
        x: { field: 'step', title: 'a & b' },
        y: { field: 'loss', title: 'y' },
        series: 'run',
        data: [...steps(3, (s) => s, { run: '<b>x</b>' }), ...steps(3, (s) => 2 * s, { run: 'y"' })],
      }),
    );
    expect(svg).not.toContain('<script');
    expect(svg).not.toContain('<b>');
    expect(svg).toContain('&lt;script&gt;');
    expect(svg).toContain('a &amp; b');
  });
});
