/**
 * Report sections built from `activation/activation.json` alone, after the paper's Fig. 5:
 * novelty over epochs, switches per data point (sorted), and the per-unit log-product of the
 * largest singular values (sorted), with the floor in the caption. A run that recorded no unit
 * (smooth activations only) gets a section that says so, without figures.
 */
import { lineChart, sortedCurve, type ReportSectionLike } from '@taylorlens/core';
import { readActivationJson, type ActivationFile } from '../files.js';

interface Loaded { label: string; json: ActivationFile }

const fmt = (v: number) => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(1) : String(Number(v.toPrecision(4))));

/** x of the novelty plot: epochs when every snapshot has one, else rounds. */
function noveltyAxis(runs: readonly Loaded[]): 'epoch' | 'round' {
  return runs.every((r) => r.json.positions.every((p) => p.epoch !== null)) ? 'epoch' : 'round';
}

function noveltyFigure(runs: readonly Loaded[]) {
  const x = noveltyAxis(runs);
  const data = runs.flatMap((r) => r.json.positions.map((p, n) => ({
    run: r.label, [x]: x === 'epoch' ? p.epoch : p.round, novelty: r.json.novelty.normalized[n],
  })));
  const points = Math.max(...runs.map((r) => r.json.snapshots)) <= 30;
  // Novelty often falls by orders of magnitude after the first epochs: a log axis then, unless a value is 0 (it would vanish).
  const values = data.map((d) => d.novelty).filter((v): v is number => v !== null);
  const lo = values.reduce((a, b) => Math.min(a, b), Infinity);
  const hi = values.reduce((a, b) => Math.max(a, b), 0);
  const log = values.length > 1 && lo > 0 && hi / lo >= 20;
  return {
    caption: 'Novelty of each activation configuration: the share of the D·M probe-unit entries whose linear piece differs from the nearest earlier configuration (for ReLU units, the bits that differ). '
      + `Higher means the optimizer visits configurations it has not visited before. The first snapshot has nothing to compare with and is left out${log ? '; log scale' : ''}.`,
    spec: lineChart({
      title: 'Novelty over training',
      subtitle: 'min over earlier snapshots of the Hamming distance over pieces, / (D·M)',
      x: { field: x, title: x === 'epoch' ? 'epoch' : 'round' },
      y: { field: 'novelty', title: 'novelty', unit: 'share of bits', scale: log ? 'log' : 'linear' },
      series: runs.length > 1 ? 'run' : undefined,
      data,
      points,
    }),
  };
}

function switchesFigure(runs: readonly Loaded[]) {
  return {
    caption: 'Switches per probe input, sorted: how often the units change linear piece on that input between consecutive snapshots, as a share of the (N−1)·M possible changes. '
      + 'A curve that sits higher means more exploration.',
    spec: sortedCurve({
      title: 'Switches per data point, sorted',
      subtitle: 'Σₙ #{m: Aₙ[d,m] ≠ Aₙ₊₁[d,m]} / ((N−1)·M)',
      curves: runs.map((r) => ({ name: r.label, values: r.json.switches!.perPoint.map((v) => v ?? NaN) })),
      y: { title: 'switch rate' },
      x: { title: runs.length > 1 ? 'probe input, rank / D (largest first)' : 'probe input, rank (largest first)', normalize: runs.length > 1 },
    }),
  };
}

function singularFigure(runs: readonly Loaded[]) {
  const floors = [...new Set(runs.map((r) => r.json.singularValues!.floor))];
  const ks = [...new Set(runs.map((r) => r.json.singularValues!.k))];
  const floorText = floors.length === 1
    ? `Singular values below the floor ${fmt(floors[0])} count as the floor (log ${fmt(Math.log(floors[0]))} each)`
    : `Singular values below each run's floor count as it (floors ${runs.map((r) => `${r.label}: ${fmt(r.json.singularValues!.floor)}`).join(', ')}; the curves are not comparable where they reach them)`;
  const never = ks.length === 1 && floors.length === 1 ? `; a unit that never changes scores k·log(floor) = ${fmt(ks[0] * Math.log(floors[0]))}` : '';
  return {
    caption: `Per unit, the sum of the logs of the k = ${ks.join('/')} largest singular values of its N × D configuration matrix centred over the snapshots, sorted `
      + '(a unit with P > 2 pieces: its N × D·P one-hot pieces / √2, which is the 0/1 matrix when P = 2): '
      + `the log-volume of configuration space the unit explored. ${floorText}${never}.`,
    spec: sortedCurve({
      title: 'Log-product of singular values per unit, sorted',
      subtitle: `first ${ks.join('/')} singular values, floor ${floors.map(fmt).join('/')}`,
      curves: runs.map((r) => ({ name: r.label, values: r.json.singularValues!.perUnit })),
      y: { title: 'Σ log σᵢ' },
      x: { title: runs.length > 1 ? 'unit, rank / M (largest first)' : 'unit, rank (largest first)', normalize: runs.length > 1 },
    }),
  };
}

function describe(j: ActivationFile): string {
  if (j.units === 0) return j.none ?? 'no piecewise-linear unit was recorded.';
  const sampled = j.layers.map((l) => {
    const what = l.pieces !== undefined ? `${l.activation}, ${l.pieces} pieces` : l.activation;
    return `${l.name} (${what}) ${l.count}${l.count < l.total ? ` of ${l.total} (sampled)` : ''}`;
  }).join(', ');
  const probe = j.probe.source === 'given' ? 'a probe set passed in' : `training samples (${j.probe.source === 'drawn' ? `drawn with seed ${j.probe.seed}` : 'given indices'})`;
  const skipped = j.skipped?.length ? ` Not recorded: ${j.skipped.map((s) => `${s.name} (${s.reason})`).join(', ')}.` : '';
  return `D = ${j.probes} probe inputs (${probe}), M = ${j.units} piecewise-linear units (${sampled}), N = ${j.snapshots} snapshots.${skipped}`;
}

function sections(runs: readonly Loaded[], id: string, title: string, notes: string[]): ReportSectionLike[] {
  if (runs.length === 0) return [];
  const recorded = runs.filter((r) => r.json.units > 0 && r.json.snapshots > 0);
  const figures = recorded.length > 0 ? [noveltyFigure(recorded)] : [];
  const done = recorded.filter((r) => r.json.switches && r.json.singularValues);
  if (done.length > 0) figures.push(switchesFigure(done), singularFigure(done));
  for (const r of recorded) if (!r.json.switches) notes.push(`${r.label}: switches and singular values are computed when training ends (status: ${r.json.status}).`);
  for (const r of runs) if (r.json.units === 0) notes.push(`${runs.length > 1 ? `${r.label}: ` : ''}${r.json.none ?? 'no piecewise-linear unit was recorded'}; the measures are absent.`);
  const intro = recorded.length === 0 ? runs.map((r) => (runs.length > 1 ? `${r.label}: ` : '') + describe(r.json)).join('\n\n') : 'An activation configuration is the D × M matrix of the linear piece each unit is in on each probe input (ReLU, LeakyReLU, PReLU: active or not; '
    + 'relu6 and hardSigmoid: below, on or above the linear part; max-pooling: which cell of the window is the maximum; Maximum/Minimum: which input wins), '
    + 'recorded at the start of training and at every snapshot; 2-piece units are in activation/configurations.npy (a bit each), the others in activation/pieces.npy.\n\n'
    + runs.map((r) => (runs.length > 1 ? `${r.label}: ` : '') + describe(r.json)).join('\n\n');
  return [{ id, title, intro, figures, notes }];
}

/** The activation section of one run (none when the run has no activation.json). */
export async function reportSections(runDir: string): Promise<ReportSectionLike[]> {
  const json = readActivationJson(runDir);
  return json ? sections([{ label: 'run', json }], 'activation', 'Activation configurations', []) : [];
}

/** The same three figures with one line per run. */
export async function compareSections(runs: { label: string; dir: string }[]): Promise<ReportSectionLike[]> {
  const notes: string[] = [];
  const loaded: Loaded[] = [];
  for (const r of runs) {
    const json = readActivationJson(r.dir);
    if (json) loaded.push({ label: r.label, json });
    else notes.push(`${r.label}: no activation/activation.json in ${r.dir}.`);
  }
  return sections(loaded, 'activation-compare', 'Activation configurations compared', notes);
}
