// Values whose solver did not converge are drawn differently: a line chart given `converged` draws
// them as hollow points, with the segments into and out of them dashed, and says so under its title.
import { describe, expect, it } from 'vitest';
import { lineChart, renderSvg, PALETTE, type Row } from '../src/report/index.js';
import { UNCONVERGED_NOTE } from '../src/report/figures.js';

type Json = Record<string, any>;
const count = (svg: string, needle: string) => svg.split(needle).length - 1;

/** Two series over five epochs; `bad` lists the (series, epoch) values that did not converge. */
function rows(bad: [string, number][] = []): Row[] {
  return [1, 2, 3, 4, 5].flatMap((epoch) => ['layer 1', 'network'].map((scope, k) => ({
    scope, epoch, value: (k + 1) / epoch, converged: !bad.some(([s, e]) => s === scope && e === epoch),
  })));
}

const chart = (data: Row[], extra: object = {}) => lineChart({
  title: 'Normalised regret', x: { field: 'epoch', title: 'epoch' }, y: { field: 'value', title: 'regret / √N' },
  series: 'scope', data, converged: 'converged', ...extra,
}) as Json;

describe('unconverged values in line charts', () => {
  it('all converged: the chart is drawn as without the option', () => {
    const plain = lineChart({ title: 'Normalised regret', x: { field: 'epoch', title: 'epoch' }, y: { field: 'value', title: 'regret / √N' }, series: 'scope', data: rows() });
    expect(chart(rows())).toEqual(plain);
  });

  it('one unconverged value: a hollow point, dashed segments either side, solid elsewhere, and a note under the title', async () => {
    const spec = chart(rows([['network', 3]]));
    expect(spec.title).toEqual({ text: 'Normalised regret', subtitle: [UNCONVERGED_NOTE] });
    const [solid, dashed, hollow] = spec.layer as Json[];
    expect(spec.layer).toHaveLength(3);
    // Dashed: network's segments 2→3 and 3→4, one polyline; solid: the layer's whole line and network's 1→2, 4→5.
    expect(dashed.mark).toEqual({ type: 'line', strokeDash: [5, 4] });
    expect(dashed.data.values.map((r: Json) => [r.scope, r.epoch])).toEqual([['network', 2], ['network', 3], ['network', 4]]);
    expect(new Set(dashed.data.values.map((r: Json) => r._segment)).size).toBe(1);
    expect(solid.mark).toEqual({ type: 'line' });
    expect(solid.encoding.detail).toEqual({ field: '_segment', type: 'nominal' });
    const pieces = new Map<number, string[]>();
    for (const r of solid.data.values as Json[]) pieces.set(r._segment, [...(pieces.get(r._segment) ?? []), `${r.scope}@${r.epoch}`]);
    expect([...pieces.values()]).toEqual([
      ['layer 1@1', 'layer 1@2', 'layer 1@3', 'layer 1@4', 'layer 1@5'], ['network@1', 'network@2'], ['network@4', 'network@5'],
    ]);
    // The hollow point: only the rows whose `converged` is false.
    expect(hollow.mark).toMatchObject({ type: 'point', filled: false, fill: 'white' });
    expect(hollow.transform).toEqual([{ filter: 'datum["converged"] === false' }]);
    expect(spec.data.values.filter((r: Json) => r.converged === false)).toEqual([{ scope: 'network', epoch: 3, value: 2 / 3, converged: false }]);

    const svg = await renderSvg(spec);
    expect(count(svg, 'stroke-dasharray="5,4"')).toBe(1);
    expect(count(svg, 'aria-roledescription="point"')).toBe(1);
    expect(svg).toMatch(new RegExp(`aria-label="epoch: 3; regret / √N: 0\\.6+7; scope: network"[^>]*fill="white"[^>]*stroke="${PALETTE[1]}"`));
    expect(svg).toContain(`>${UNCONVERGED_NOTE}</text>`);
    // The legend still shows one entry per series.
    expect(count(svg, '>layer 1</text>') + count(svg, '>network</text>')).toBe(2);
  });

  it('with points on: converged points filled, unconverged hollow; an unconverged first or last value dashes one segment', async () => {
    const spec = chart(rows([['layer 1', 1], ['layer 1', 5]]), { points: true, subtitle: 'mean ± 1 std' });
    expect(spec.title.subtitle).toEqual(['mean ± 1 std', UNCONVERGED_NOTE]);
    const dashed = spec.layer[1] as Json;
    expect(dashed.data.values.map((r: Json) => `${r._segment}:${r.epoch}`)).toEqual(['1:1', '1:2', '3:4', '3:5']);
    const filled = spec.layer.find((l: Json) => l.mark.type === 'point' && l.mark.filled === true);
    expect(filled.transform).toEqual([{ filter: 'datum["converged"] !== false' }]);
    const svg = await renderSvg(spec);
    expect(count(svg, 'aria-roledescription="point"')).toBe(10);
    expect(count(svg, 'fill="white" fill-opacity="1"')).toBe(2);
  });
});
