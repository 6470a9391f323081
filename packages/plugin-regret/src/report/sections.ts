/**
 * Report sections built from `regret/regret.json` and `regret/losses.npy` alone, after the
 * paper's Fig. 3 (one run: normalised regret per layer with a ±1 std band over neurons; for a
 * chosen scope its loss, Taylor optimum, regret and the network's loss) and Fig. 4 (several runs:
 * one layer's normalised regret per run; cumulative loss against cumulative Taylor-optimal loss).
 */
import fs from 'node:fs';
import path from 'node:path';
import { decodeNpy, lineChart, type ReportSectionLike, type Row } from '@taylorlens/core';
import { PLUGIN_NAME } from '../options.js';
import type { CheckpointRecord, RegretFile, ScopeRecord } from '../plugin.js';
import type { SolverReport } from '../scopes/scope.js';

export function readRegret(runDir: string): { json: RegretFile; losses: Float64Array | null } | null {
  const file = path.join(runDir, PLUGIN_NAME, 'regret.json');
  if (!fs.existsSync(file)) return null;
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as RegretFile;
  const lf = path.join(runDir, PLUGIN_NAME, json.losses ?? 'losses.npy');
  const losses = fs.existsSync(lf) ? Float64Array.from(decodeNpy(fs.readFileSync(lf), lf).data) : null;
  return { json, losses };
}

const label = (s: ScopeRecord) => (s.kind === 'network' ? 'network' : `${s.kind === 'layer' ? 'layer' : 'neurons'} ${s.layerIndex! + 1} (${s.layer})`);

/** Network cumulative loss over all rounds up to `round`, normalised by √round. */
function networkCurve(losses: Float64Array | null, round: number): number {
  if (!losses || round < 1) return NaN;
  let s = 0;
  for (let i = 0; i < Math.min(round, losses.length); i++) s += losses[i];
  return s / Math.sqrt(Math.min(round, losses.length));
}

const sq = (c: CheckpointRecord) => Math.sqrt(Math.max(c.recordedRounds, 1));

/**
 * Whether a checkpoint's hindsight values (Φ, regret) are results: every solve certified (or, where
 * the solver gives no certificate, converged). Figures draw the others differently (hollow points,
 * dashed segments: the `converged` field of their rows).
 */
const solved = (c: CheckpointRecord) => c.ball.solver.every((r) => (r.certified !== undefined ? r.certified : r.converged !== false));

/** A number for a note; a non-finite value (NaN and ±∞ are null in regret.json) says so instead of crashing. */
const fx = (v: number | null | undefined, digits: number, form: 'exp' | 'prec' = 'exp') => (typeof v === 'number' && Number.isFinite(v)
  ? (form === 'exp' ? v.toExponential(digits) : v.toPrecision(digits)) : 'not finite');

function meanStd(xs: number[]) {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { m, s: Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length) };
}

function regretPerLayer(json: RegretFile) {
  const neurons = Object.values(json.scopes).filter((s) => s.kind === 'neurons');
  const layers = Object.values(json.scopes).filter((s) => s.kind !== 'neurons');
  const figures: ReportSectionLike['figures'] = [];
  if (neurons.length > 0) {
    const data: Row[] = neurons.flatMap((s) => s.checkpoints.map((c) => ({
      scope: label(s), epoch: c.epoch, mean: c.summary.mean, lower: c.summary.mean - c.summary.std, upper: c.summary.mean + c.summary.std, converged: solved(c),
    })));
    figures.push({
      caption: 'Regret of single neurons, Σℓₙ − Φ over the recorded rounds divided by √N, averaged over the sampled units of each layer; '
        + 'the band is ±1 standard deviation over those units. A curve that flattens means regret grows like √N, as Theorem 2 predicts.',
      spec: lineChart({
        title: 'Normalised cumulative regret of neurons, per layer', subtitle: 'mean ± 1 std over the sampled neurons (ball-constrained optimum)',
        x: { field: 'epoch', title: 'epoch' }, y: { field: 'mean', title: 'regret / √N' }, series: 'scope', band: { lower: 'lower', upper: 'upper' },
        data, points: data.length <= 40, converged: 'converged',
      }),
    });
  }
  if (layers.length > 0) {
    const data: Row[] = layers.flatMap((s) => s.checkpoints.map((c) => ({ scope: label(s), epoch: c.epoch, value: c.normalized.regret[0], converged: solved(c) })));
    figures.push({
      caption: 'Regret of whole layers (and of the network, when recorded), divided by √N of the recorded rounds, against the ball-constrained hindsight Taylor optimum.',
      spec: lineChart({
        title: 'Normalised cumulative regret of layers and network', x: { field: 'epoch', title: 'epoch' }, y: { field: 'value', title: 'regret / √N' },
        series: 'scope', data, points: data.length <= 40, converged: 'converged',
      }),
    });
  }
  return figures;
}

/**
 * The two readings of "Taylor optimum" side by side, when the run asked for the per-round one:
 * the hindsight regret (one comparator for the prefix, the theorem's) and the per-round regret
 * (Σₙ of ℓₙ − min τⁿ, the paper's "optimum at each round"), both ÷ √N, means over neurons.
 */
function readingsFigure(json: RegretFile): ReportSectionLike['figures'] {
  const scopes = Object.values(json.scopes).filter((s) => s.checkpoints.some((c) => c.perRound));
  if (scopes.length === 0) return [];
  const data: Row[] = scopes.flatMap((s) => s.checkpoints.filter((c) => c.perRound).flatMap((c) => [
    { curve: `${label(s)}: hindsight`, epoch: c.epoch, value: c.summary.mean, converged: solved(c) },
    { curve: `${label(s)}: per round`, epoch: c.epoch, value: meanStd(c.perRound!.normalized).m, converged: c.perRound!.converged },
  ]));
  const every = scopes[0].checkpoints.find((c) => c.perRound)!.perRound!.every;
  return [{
    caption: 'Two readings of the Taylor optimum. Hindsight: one comparator V ∈ K for all rounds so far (Theorem 2\'s; it can beat the learner, '
      + 'so regret can be negative). Per round: each round\'s own minimum of τⁿ over the ball as it stood then, which Wₙ is in, so this regret is never '
      + `negative and grows about linearly when the learner does not reach each round's optimum. Solved every ${every}${every === 1 ? '' : 'th'} recorded round and `
      + 'scaled to all recorded rounds; both ÷ √N, means over the sampled neurons.',
    spec: lineChart({
      title: 'Regret: hindsight and per-round readings', x: { field: 'epoch', title: 'epoch' }, y: { field: 'value', title: 'regret / √N' },
      series: 'curve', data, points: data.length <= 40, converged: 'converged',
    }),
  }];
}

/** Fig. 3(b)/(c): a scope's loss, Taylor optimum and regret (mean ± std over neurons) and the network's loss, all / √N. */
function scopeFigure(s: ScopeRecord, losses: Float64Array | null) {
  const rows: Row[] = [];
  for (const c of s.checkpoints) {
    const n = sq(c);
    const phi = meanStd(c.ball.phi.map((v) => v / n));
    const reg = meanStd(c.ball.regret.map((v) => v / n));
    const loss = c.cumulativeLoss / n;
    rows.push({ curve: `${s.kind === 'neurons' ? 'neuron' : s.kind} loss`, epoch: c.epoch, value: loss, lower: loss, upper: loss });
    rows.push({ curve: 'Taylor optimum', epoch: c.epoch, value: phi.m, lower: phi.m - phi.s, upper: phi.m + phi.s, converged: solved(c) });
    rows.push({ curve: 'regret', epoch: c.epoch, value: reg.m, lower: reg.m - reg.s, upper: reg.m + reg.s, converged: solved(c) });
    const net = networkCurve(losses, c.round);
    rows.push({ curve: 'network loss', epoch: c.epoch, value: net, lower: net, upper: net });
  }
  return {
    caption: `${label(s)}: cumulative incurred loss on the recorded rounds, the cumulative Taylor-optimal loss Φ and their difference, the regret, `
      + 'each divided by √N' + (s.kind === 'neurons' ? ', averaged over the sampled neurons (band: ±1 std)' : '')
      + '; and the network\'s cumulative loss over all rounds divided by √(rounds).',
    spec: lineChart({
      title: `Loss, Taylor optimum and regret: ${label(s)}`, x: { field: 'epoch', title: 'epoch' }, y: { field: 'value', title: 'cumulative / √N' },
      series: 'curve', band: { lower: 'lower', upper: 'upper' }, data: rows, points: s.checkpoints.length <= 20, converged: 'converged',
    }),
  };
}

function convergenceNotes(json: RegretFile): string[] {
  const notes: string[] = [];
  for (const s of Object.values(json.scopes)) {
    const c = s.checkpoints.at(-1);
    if (!c) continue;
    const bad = c.ball.solver.filter((r) => !r.converged).length;
    const worst = Math.max(...c.ball.solver.map((r) => r.gap ?? r.residual ?? 0));
    const cert = certificateCell(c);
    notes.push(`${label(s)}: ${c.ball.solver[0]?.method ?? 'no solve'}; ${bad === 0 ? 'all converged' : `${bad} of ${c.ball.solver.length} not converged`}; `
      + (cert === '—' ? '' : `${cert}${c.ball.solver.length === 1 ? ` (${certificateText(c.ball.solver[0])})` : ''}; `)
      + `worst ${c.ball.solver[0]?.gap !== undefined ? 'Frank–Wolfe gap' : 'KKT residual'} ${fx(worst, 2)}; ball radius ${c.ball.radius.map((r) => fx(r, 3, 'prec')).slice(0, 3).join(', ')}${c.ball.radius.length > 3 ? ', …' : ''}`
      + (c.unconstrained ? `; unconstrained rank ${Math.min(...c.unconstrained.rank)}–${Math.max(...c.unconstrained.rank)} of ${s.params} (rcond ${fx(c.unconstrained.rcond, 1)})` : ''));
  }
  return notes;
}

/** How the run's end and the budget shaped what is shown: a diverged run, scopes skipped for budget. */
function runNotes(json: RegretFile): string[] {
  const notes: string[] = [];
  if (json.status === 'diverged') {
    notes.push('The run diverged: the round whose loss was not finite is not in any sum (it was never stepped); the last checkpoint covers the rounds before it.');
  }
  for (const s of json.cost?.skipped ?? []) notes.push(`Scope ${s.key} was skipped for budget: ${s.reason}.`);
  return notes;
}

function perRoundNotes(json: RegretFile): string[] {
  return Object.values(json.scopes).flatMap((s) => {
    const pr = s.checkpoints.at(-1)?.perRound;
    if (!pr) return [];
    return [`${label(s)}, per-round reading: ${pr.rounds} of ${pr.recordedRounds} recorded rounds solved (${pr.method}); `
      + `${pr.converged ? 'all converged' : 'SOME SOLVES DID NOT CONVERGE: the per-round values are not certified'}; worst certificate ${fx(pr.worstCertificate, 2)}`];
  });
}

/** A solve whose certificate missed its tolerance (files from before certificates have none: not flagged). */
const uncertified = (r: SolverReport) => r.certified === false;

function certificateText(r: SolverReport): string {
  const tol = (v: number | undefined, t: number | undefined, what: string) =>
    v === undefined ? '' : `${what} ${v.toExponential(1)}${t !== undefined ? ` (tolerance ${t.toExponential(0)})` : ''}`;
  return [tol(r.residual, r.tolerance, 'KKT residual'), tol(r.gap, r.gapTolerance, 'Frank–Wolfe gap'), r.stop ? `stopped: ${r.stop}` : '']
    .filter(Boolean).join(', ');
}

/** Every checkpoint value whose solve is not certified: an estimate, not a result. */
function certificateFlags(scopes: ScopeRecord[], prefix = ''): string[] {
  return scopes.flatMap((s) => s.checkpoints.flatMap((c) => {
    const bad = c.ball.solver.filter(uncertified);
    if (bad.length === 0) return [];
    const what = s.problems > 1 ? `${bad.length} of ${c.ball.solver.length} optima` : 'Φ';
    return [`${prefix}${label(s)}, epoch ${c.epoch} (round ${c.round}): ${what} NOT CERTIFIED (${certificateText(bad[0])}); `
      + 'its Φ and regret are estimates, not results.'];
  }));
}

function certificateCell(c: CheckpointRecord): string {
  const known = c.ball.solver.filter((r) => r.certified !== undefined);
  if (known.length === 0) return '—';
  const bad = known.filter(uncertified).length;
  return bad === 0 ? 'certified' : known.length === 1 ? 'NOT CERTIFIED' : `NOT CERTIFIED (${bad} of ${known.length})`;
}

function summaryTable(json: RegretFile) {
  const rows = Object.values(json.scopes).flatMap((s) => {
    const c = s.checkpoints.at(-1);
    if (!c) return [];
    const reg = meanStd(c.normalized.regret);
    return [{
      scope: label(s), problems: s.problems, params: s.params, method: s.method, rounds: c.recordedRounds,
      loss: c.cumulativeLoss, phi: meanStd(c.ball.phi).m, regret: meanStd(c.ball.regret).m, normalized: reg.m, std: s.problems > 1 ? reg.s : null,
      certificate: certificateCell(c),
    }];
  });
  return {
    caption: 'Last checkpoint per scope (means over neurons): Σℓₙ and Φ over the recorded rounds, regret R = Σℓₙ − Φ and R/√N.',
    columns: [
      { key: 'scope' }, { key: 'problems', title: 'problems' }, { key: 'params', title: 'params each' }, { key: 'method' },
      { key: 'rounds', title: 'recorded rounds' }, { key: 'loss', title: 'Σℓ' }, { key: 'phi', title: 'Φ (ball)' }, { key: 'regret', title: 'R' },
      { key: 'normalized', title: 'R/√N' }, { key: 'std', title: 'std R/√N' }, { key: 'certificate', title: 'certificate' },
    ],
    rows,
  };
}

export async function reportSections(runDir: string): Promise<ReportSectionLike[]> {
  const loaded = readRegret(runDir);
  if (!loaded) return [];
  const { json, losses } = loaded;
  const scopes = Object.values(json.scopes).filter((s) => s.checkpoints.length > 0);
  if (scopes.length === 0) return [];
  // Fig. 3(b), (c): the first two neuron scopes (or layers when no neurons were recorded).
  const neurons = scopes.filter((s) => s.kind === 'neurons');
  const chosen = (neurons.length > 0 ? neurons : scopes).slice(0, 2);
  return [{
    id: 'regret',
    title: 'Regret against the hindsight Taylor optimum',
    intro: 'For each scope S (the network, a layer, or one neuron\'s incoming weights) and rounds n = 1…N: the incurred loss ℓₙ, the Taylor loss τⁿ_S '
      + '(the loss of the network linearised in S around Wₙ, with ReLU and max-pool choices frozen), the hindsight Taylor optimum '
      + 'Φ_S(N) = min over a ball of Σₙ τⁿ_S and the regret R_S(N) = Σₙ ℓₙ − Φ_S(N). The ball is centred on the scope\'s first recorded weights '
      + `with radius ${json.options.feasible.ballFactor} × the farthest the trajectory went. Sums run over the recorded rounds; N counts them.`
      + (json.squaredErrorScale !== null ? ' With squared error every layer and neuron optimum is exact (running statistics, trust-region solution by eigendecomposition).' : ' Layer and neuron optima are found by projected L-BFGS over the stored rounds; its Frank–Wolfe gap bounds the error of Φ.')
      + ' The network scope is solved matrix-free over its stored rounds (GLTR trust region for squared error, regularised Newton for cross-entropy) and '
      + 'certified by an explicit KKT residual (its Frank–Wolfe gap bounds the error of Φ); a value whose residual misses the tolerance is flagged at the top of this section.',
    flags: certificateFlags(scopes),
    figures: [...regretPerLayer(json), ...readingsFigure(json), ...chosen.map((s) => scopeFigure(s, losses))],
    tables: [summaryTable(json)],
    notes: [...runNotes(json), ...convergenceNotes(json), ...perRoundNotes(json)],
  }];
}

/** A scope of a run by kind and layer position (layer names differ between runs of one process). */
function find(json: RegretFile, kind: string, layerIndex: number | null): ScopeRecord | undefined {
  return Object.values(json.scopes).find((s) => s.kind === kind && s.layerIndex === layerIndex && s.checkpoints.length > 0);
}

/** The layer compared across runs: a layer scope present in every run, nearest the middle of the network. */
function commonLayer(runs: { json: RegretFile }[]): number | null {
  const idx = Object.values(runs[0].json.scopes).filter((s) => s.kind === 'layer' && runs.every((r) => find(r.json, 'layer', s.layerIndex)))
    .map((s) => s.layerIndex!);
  if (idx.length === 0) return null;
  const mid = Math.max(...idx) / 2;
  return idx.sort((a, b) => Math.abs(a - mid) - Math.abs(b - mid))[0];
}

/** The scopes of a run that have a checkpoint, in words (for saying why a comparison is left out). */
function scopeList(json: RegretFile): string {
  const list = Object.values(json.scopes).filter((s) => s.checkpoints.length > 0).map(label);
  return list.length > 0 ? list.join(', ') : 'no scope with a checkpoint';
}

export async function compareSections(runs: { label: string; dir: string }[]): Promise<ReportSectionLike[]> {
  const loaded: { label: string; json: RegretFile; losses: Float64Array | null }[] = [];
  const notes: string[] = [];
  for (const r of runs) {
    const read = readRegret(r.dir);
    if (read) loaded.push({ label: r.label, ...read });
    else notes.push(`${r.label}: no ${PLUGIN_NAME}/regret.json in ${r.dir}; the run is not in this comparison.`);
  }
  // Not comparable: say so (compare names the section it leaves out, and why) instead of nothing.
  const leftOut = (why: string): ReportSectionLike[] => [{ id: 'regret-compare', title: 'Regret per optimizer', figures: [], leftOut: why }];
  if (loaded.length === 0) return leftOut(`no run has ${PLUGIN_NAME}/regret.json (${runs.map((r) => `${r.label}: ${r.dir}`).join('; ')})`);
  const layer = commonLayer(loaded);
  const [kind, index] = layer !== null ? ['layer', layer] : ['network', null];
  if (!loaded.every((r) => find(r.json, kind, index))) {
    return leftOut('the runs share no scope this comparison plots, a layer or the network recorded in every run '
      + `(${loaded.map((r) => `${r.label}: ${scopeList(r.json)}`).join('; ')})`);
  }
  const scope = find(loaded[0].json, kind, index)!;
  const regret: Row[] = loaded.flatMap((r) => find(r.json, kind, index)!.checkpoints.map((c) => ({ run: r.label, epoch: c.epoch, value: c.normalized.regret[0], converged: solved(c) })));
  const cumulative: Row[] = loaded.flatMap((r) => find(r.json, kind, index)!.checkpoints.flatMap((c) => [
    { curve: `${r.label}: incurred`, epoch: c.epoch, value: c.cumulativeLoss },
    { curve: `${r.label}: Taylor optimum`, epoch: c.epoch, value: c.ball.phi[0], converged: solved(c) },
  ]));
  const flags = loaded.flatMap((r) => certificateFlags([find(r.json, kind, index)!], `${r.label}: `));
  return [{
    id: 'regret-compare',
    flags,
    ...(notes.length > 0 ? { notes } : {}),
    title: `Regret per optimizer: ${label(scope)}`,
    intro: 'One line per run. Regret against the ball-constrained hindsight Taylor optimum of one layer, divided by √N (flat means √N growth); '
      + 'and the cumulative incurred loss next to the cumulative Taylor-optimal loss: the gap between them is the regret.',
    figures: [
      {
        caption: `${label(scope)}: regret / √N per run (the paper's Fig. 4a/b).`,
        spec: lineChart({ title: `Normalised regret, ${label(scope)}`, x: { field: 'epoch', title: 'epoch' }, y: { field: 'value', title: 'regret / √N' }, series: 'run', data: regret, points: regret.length <= 40, converged: 'converged' }),
      },
      {
        caption: `${label(scope)}: cumulative incurred loss and cumulative Taylor-optimal loss Φ per run, over the recorded rounds (the paper's Fig. 4c).`,
        spec: lineChart({ title: `Cumulative loss and Taylor-optimal loss, ${label(scope)}`, x: { field: 'epoch', title: 'epoch' }, y: { field: 'value', title: 'cumulative loss' }, series: 'curve', data: cumulative, points: cumulative.length <= 40, converged: 'converged' }),
      },
    ],
  }];
}
