#!/usr/bin/env node
// The numbers RESULTS.md quotes, recomputed from run folders (run.json, metrics.jsonl,
// regret/regret.json, activation/activation.json): one markdown table per question.
//
//   node results/summarize.mjs <run folder>…
//
// Plain Node (no build, no dependencies), so anyone with the run folders can check the numbers.
import fs from 'node:fs';
import path from 'node:path';

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  console.error('usage: node results/summarize.mjs <run folder>…');
  process.exit(2);
}

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const maybeJson = (file) => (fs.existsSync(file) ? readJson(file) : null);

const runs = dirs.map((dir) => {
  for (const f of ['run.json', 'metrics.jsonl']) {
    if (!fs.existsSync(path.join(dir, f))) {
      console.error(`${dir}: not a run folder (no ${f})`);
      process.exit(2);
    }
  }
  const run = readJson(path.join(dir, 'run.json'));
  const rows = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const epochs = rows.filter((r) => r.kind === 'epoch');
  const opt = run.config.optimizer;
  const lr = opt.options?.learningRate;
  return {
    dir,
    label: lr === undefined ? opt.name : `${opt.name} ${lr}`,
    run,
    epochs,
    regret: maybeJson(path.join(dir, 'regret', 'regret.json')),
    activation: maybeJson(path.join(dir, 'activation', 'activation.json')),
  };
});

const fmt = (v, digits = 3) => {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e-2 && a < 1e4 ? v.toFixed(digits) : v.toExponential(2);
};
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const table = (head, body) => [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');

/**
 * Growth exponent α of |R(N)| ∝ N^α over the second half of the checkpoints (least squares on
 * log |R| against log N); α ≤ 0.5 is the paper's √N growth. Null unless R keeps one sign there.
 */
function growthExponent(points) {
  const half = points.slice(Math.floor(points.length / 2));
  const sign = Math.sign(half[0]?.R ?? 0);
  if (half.length < 2 || sign === 0 || half.some((p) => Math.sign(p.R) !== sign)) return null;
  const xs = half.map((p) => Math.log(p.N));
  const ys = half.map((p) => Math.log(Math.abs(p.R)));
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  return sxy / sxx;
}

function growthLabel(points) {
  const a = growthExponent(points);
  if (a === null) return '—';
  return points.at(-1).R < 0 ? `${a.toFixed(2)} (R < 0)` : a.toFixed(2);
}

/** Per checkpoint: N (recorded rounds), R (mean over the scope's problems) and R/√N, in the ball or unconstrained. */
function regretPoints(scope, feasible) {
  return scope.checkpoints.map((c) => {
    const R = mean(c[feasible].regret);
    return { epoch: c.epoch, N: c.recordedRounds, R, normalized: R / Math.sqrt(c.recordedRounds), loss: c.cumulativeLoss, phi: mean(c[feasible].phi) };
  });
}

const out = [];
out.push(`Runs: ${runs.map((r) => `${r.label} (${path.basename(r.dir)})`).join(', ')}\n`);

// Training: status, time, losses.
out.push('### Training\n');
out.push(table(['optimizer', 'status', 'epochs', 'train s', 'loss, epoch 1', 'loss, last epoch', 'val loss, last epoch'], runs.map((r) => {
  const last = r.epochs.at(-1) ?? {};
  return [r.label, r.run.status, String(r.epochs.length), fmt(r.run.timings.trainMs / 1000, 0), fmt(r.epochs[0]?.loss, 4), fmt(last.loss, 4), fmt(last.val_loss, 4)];
})));

// Regret per scope: R/√N at the first, middle and last checkpoint, growth exponent, and the gap
// between cumulative loss and the Taylor optimum relative to the cumulative loss.
const scopeKeys = [...new Set(runs.flatMap((r) => Object.keys(r.regret?.scopes ?? {})))];
for (const key of scopeKeys) {
  for (const feasible of ['ball', 'unconstrained']) {
    const body = [];
    for (const r of runs) {
      const scope = r.regret?.scopes[key];
      if (!scope || scope.checkpoints.length === 0 || !scope.checkpoints[0][feasible]) continue;
      const pts = regretPoints(scope, feasible);
      const mid = pts[Math.floor((pts.length - 1) / 2)];
      const last = pts.at(-1);
      body.push([r.label, String(scope.problems), fmt(pts[0].normalized), `${fmt(mid.normalized)} (ep ${mid.epoch})`, `${fmt(last.normalized)} (ep ${last.epoch})`,
        growthLabel(pts), fmt(last.loss / Math.sqrt(last.N), 4), fmt(last.phi / Math.sqrt(last.N), 4), String(last.N)]);
    }
    if (body.length === 0) continue;
    out.push(`\n### Regret, ${key}, ${feasible === 'ball' ? 'in the ball' : 'unconstrained (least-norm)'}; mean over ${key.startsWith('neurons') ? 'the sampled neurons' : 'the scope'}\n`);
    out.push(table(['optimizer', 'problems', 'R/√N first', 'R/√N middle', 'R/√N last', 'α (\\|R\\| ∝ N^α, 2nd half)', 'Σℓ/√N last', 'Φ/√N last', 'N rounds'], body));
  }
}

// Per checkpoint where a solver certifies its value (the network scope): the certificate, and the
// bracket [R, R + gap] the Frank–Wolfe gap gives the exact regret when the solve missed its tolerance.
for (const key of scopeKeys) {
  const body = [];
  for (const r of runs) {
    const scope = r.regret?.scopes[key];
    for (const c of scope?.checkpoints ?? []) {
      const s = c.ball.solver[0];
      if (s?.certified === undefined || scope.problems !== 1) continue;
      const n = Math.sqrt(Math.max(c.recordedRounds, 1));
      const R = c.ball.regret[0];
      body.push([r.label, String(c.epoch), String(c.recordedRounds), s.certified ? 'yes' : `**no** (${s.stop})`, fmt(s.residual, 2), fmt(s.gap, 2),
        String(s.products ?? s.iterations), fmt(R / n), s.certified ? fmt(R / n) : `${fmt(R / n)} … ${fmt((R + s.gap) / n)}`]);
    }
  }
  if (body.length === 0) continue;
  out.push(`\n### Certificates, ${key} (ball)\n`);
  out.push(table(['optimizer', 'epoch', 'N', 'certified', 'KKT residual', 'Frank–Wolfe gap', 'products', 'R/√N', 'exact R/√N lies in'], body));
}

// The per-round reading (readings: ['hindsight', 'perRound']) next to the hindsight one, at the last checkpoint.
{
  const body = [];
  for (const r of runs) {
    for (const [key, scope] of Object.entries(r.regret?.scopes ?? {})) {
      const c = scope.checkpoints.at(-1);
      if (!c?.perRound) continue;
      body.push([r.label, key, String(c.epoch), fmt(mean(c.normalized.regret)), fmt(mean(c.perRound.normalized.map((v) => v ?? NaN))),
        `${c.perRound.rounds} of ${c.perRound.recordedRounds}`, c.perRound.converged ? 'yes' : '**no**', fmt(c.perRound.worstCertificate, 2)]);
    }
  }
  if (body.length > 0) {
    out.push('\n### Two readings of the Taylor optimum, last checkpoint (R/√N; means over neurons)\n');
    out.push(table(['optimizer', 'scope', 'epoch', 'hindsight', 'per round', 'rounds solved', 'all solves converged', 'worst certificate'], body));
  }
}

// Exploration (plugin-activation).
const withAct = runs.filter((r) => r.activation);
if (withAct.length > 0) {
  out.push('\n### Exploration (activation configurations of the probe set)\n');
  out.push(table(['optimizer', 'snapshots', 'novelty / (D·M): mean, epochs 1–N', 'mean, epochs 2–N', 'last', 'nearest earlier = previous', 'switches per point: mean', 'max',
    'log-product of singular values per unit: mean', 'median', 'units that never change'], withAct.map((r) => {
    const a = r.activation;
    const nov = a.novelty.normalized.filter((v) => v !== null);
    const nearest = a.novelty.nearest.map((k, n) => (k === null ? null : k === n - 1)).filter((v) => v !== null);
    const sw = a.switches?.perPoint.filter((v) => v !== null) ?? [];
    const sv = a.singularValues;
    const sorted = sv ? [...sv.perUnit].sort((x, y) => x - y) : [];
    // A unit whose column never changes scores k·log(floor) (taylor-math.md).
    const frozen = sv ? sv.perUnit.filter((v) => v <= sv.k * Math.log(sv.floor) + 1e-6).length : null;
    return [r.label, String(a.snapshots), fmt(mean(nov), 4), fmt(mean(nov.slice(1)), 4), fmt(nov.at(-1), 4), `${nearest.filter(Boolean).length}/${nearest.length}`,
      sw.length ? fmt(mean(sw), 4) : '—', sw.length ? fmt(Math.max(...sw), 4) : '—',
      sv ? fmt(mean(sv.perUnit), 1) : '—', sv ? fmt(sorted[Math.floor(sorted.length / 2)], 1) : '—', sv ? `${frozen}/${sv.perUnit.length} (floor ${sv.floor}, k ${sv.k})` : '—'];
  })));
}

console.log(out.join('\n'));
