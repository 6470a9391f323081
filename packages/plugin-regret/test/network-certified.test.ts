// The certified network-scope optimum (issue 12): GLTR for squared error, regularised Newton for
// cross-entropy, against dense float64 references built from brute-force per-sample Jacobians
// (one backward pass per sample and output unit through the real layers), ball active and not.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { buildReport, selectBackend, Trainer } from '@taylorlens/core';
import {
  krylovTrustRegion, NetworkScope, RegretPlugin, reportSections, solveTrustRegion, symmetricEigen, taylorlensPlugin, type RegretFile, type SolverReport,
} from '@taylorlens/plugin-regret';
import { tinyDense } from '../../core/test/helpers/models.js';
import { bruteJacobianTensors } from './helpers/brute.js';
import { bruteObjective, type BruteRound } from './helpers/brute-optimum.js';
import { dataFor, disposeRounds, keepRounds, meanSquaredError, NETS, softmaxCrossEntropy, type KeptRound, type NetCase } from './helpers/nets.js';
import { tempStore } from './helpers/store.js';

const MSE_NET = NETS[0]; // dense ReLU 5-4-3-6, 63 parameters
const CE_NET = NETS[1]; // dense ReLU 5-4-3-4, 55 parameters

/** Train with the network scope recording every round; keep every round for the references. */
async function train(net: NetCase, options: object, store?: ReturnType<typeof tempStore>, samples = 12, soft = false) {
  const model = net.make();
  const plugin = new RegretPlugin({ network: { every: 1 }, layers: { enabled: false }, neurons: { enabled: false }, budget: { maxOverhead: 1e6 }, trace: false, ...options });
  plugin.retain = true;
  const optimizer = tf.train.sgd(0.3);
  const trainer = new Trainer(model, { loss: net.loss, optimizer, plugins: [plugin], ...(store ? { store } : {}) });
  const kept = keepRounds(trainer);
  const data = dataFor(net, samples, 5);
  const { x } = data;
  // Soft targets (full support) make cross-entropy coercive: its minimum is attained, so a large ball is inactive.
  const y = soft ? tf.tidy(() => tf.softmax(tf.randomNormal(data.y.shape, 0, 1, 'float32', 9))) : data.y;
  if (soft) data.y.dispose();
  await trainer.fit(x, y, { epochs: 1, batchSize: 3, shuffle: false });
  const scope = plugin.scopes[0] as NetworkScope;
  const ckpt = plugin.results.scopes[scope.desc.key].checkpoints.at(-1)!;
  const refs = kept.map((r) => bruteRound(trainer, scope, r));
  const centre = Float64Array.from(scope.centre()!.dataSync());
  const done = () => { plugin.dispose(); disposeRounds(kept); tf.dispose([x, y]); model.dispose(); optimizer.dispose(); };
  return { plugin, scope, ckpt, refs, centre, kept, done };
}

function bruteRound(trainer: Trainer, scope: NetworkScope, r: KeptRound): BruteRound {
  const vn = scope.readParams(r.before);
  const G = bruteJacobianTensors(trainer.anatomy, scope.desc, r.before, r.x, vn);
  const out = { G: Float64Array.from(G), f: Float64Array.from(r.f.dataSync()), y: Float64Array.from(r.y.dataSync()), vn: Float64Array.from(vn.dataSync()), B: r.x.shape[0], pL: trainer.anatomy.outputSize };
  vn.dispose();
  return out;
}

/** Rows `G_b,k` of every round, the output at the centre `T_n(c)`, targets; dense float64. */
function denseRows(refs: BruteRound[], centre: Float64Array) {
  const P = centre.length;
  return refs.map((r) => {
    const T = new Float64Array(r.B * r.pL);
    for (let j = 0; j < r.B * r.pL; j++) {
      let s = r.f[j];
      for (let i = 0; i < P; i++) s += r.G[j * P + i] * (centre[i] - r.vn[i]);
      T[j] = s;
    }
    return { ...r, T };
  });
}

/** Squared error: F(u) = uᵀAu + 2bᵀu + c, dense (γ = 1/p_L). */
function denseQuadratic(refs: BruteRound[], centre: Float64Array) {
  const P = centre.length;
  const A = new Float64Array(P * P);
  const b = new Float64Array(P);
  let c = 0;
  for (const r of denseRows(refs, centre)) {
    const w = 1 / (r.B * r.pL);
    for (let j = 0; j < r.B * r.pL; j++) {
      const e = r.T[j] - r.y[j];
      const row = r.G.subarray(j * P, (j + 1) * P);
      c += w * e * e;
      for (let i = 0; i < P; i++) {
        b[i] += w * row[i] * e;
        const wi = w * row[i];
        for (let k = 0; k < P; k++) A[i * P + k] += wi * row[k];
      }
    }
  }
  return { A, b, c };
}

/** Cross-entropy: value, gradient and exact Hessian at u (the Taylor model is linear in u). */
function denseCrossEntropy(rows: ReturnType<typeof denseRows>, u: Float64Array) {
  const P = u.length;
  let value = 0;
  const grad = new Float64Array(P);
  const H = new Float64Array(P * P);
  for (const r of rows) {
    const { B, pL } = r;
    for (let b = 0; b < B; b++) {
      const z = Float64Array.from({ length: pL }, (_, k) => {
        let s = r.T[b * pL + k];
        const row = (b * pL + k) * P;
        for (let i = 0; i < P; i++) s += r.G[row + i] * u[i];
        return s;
      });
      const m = Math.max(...z);
      const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
      const p = z.map((v) => Math.exp(v - lse));
      const y = r.y.subarray(b * pL, (b + 1) * pL);
      const cy = y.reduce((s, v) => s + v, 0);
      const dz = p.map((pk, k) => (cy * pk - y[k]) / B);
      for (let k = 0; k < pL; k++) value -= (y[k] * (z[k] - lse)) / B;
      // Jᵀ dz and Jᵀ S J with S = (c/B)(diag p − ppᵀ).
      const Jp = new Float64Array(P);
      for (let k = 0; k < pL; k++) {
        const row = r.G.subarray((b * pL + k) * P, (b * pL + k + 1) * P);
        for (let i = 0; i < P; i++) { grad[i] += row[i] * dz[k]; Jp[i] += row[i] * p[k]; }
      }
      const s = cy / B;
      for (let k = 0; k < pL; k++) {
        const row = r.G.subarray((b * pL + k) * P, (b * pL + k + 1) * P);
        for (let i = 0; i < P; i++) { const a = s * p[k] * row[i]; for (let j = 0; j < P; j++) H[i * P + j] += a * row[j]; }
      }
      for (let i = 0; i < P; i++) { const a = s * Jp[i]; for (let j = 0; j < P; j++) H[i * P + j] -= a * Jp[j]; }
    }
  }
  return { value, grad, H };
}

/** Ball-constrained Newton in float64: each step the exact trust-region subproblem, then Armijo. */
function denseNewton(rows: ReturnType<typeof denseRows>, radius: number) {
  const P = rows[0].G.length / (rows[0].B * rows[0].pL);
  let u = new Float64Array(P);
  let at = denseCrossEntropy(rows, u);
  for (let it = 0; it < 60; it++) {
    // min ½wᵀHw + (g − Hu)ᵀw over ‖w‖ ≤ r, i.e. wᵀ(H/2)w + 2·((g − Hu)/2)ᵀw.
    const lin = at.grad.map((g, i) => { let s = g; for (let j = 0; j < P; j++) s -= at.H[i * P + j] * u[j]; return s / 2; });
    const w = solveTrustRegion(symmetricEigen(at.H.map((h) => h / 2), P), lin, radius).u;
    const d = w.map((x, i) => x - u[i]);
    const slope = d.reduce((s, v, i) => s + v * at.grad[i], 0);
    if (slope > -1e-300) break;
    let t = 1;
    let next = denseCrossEntropy(rows, u.map((x, i) => x + t * d[i]));
    while (next.value > at.value + 1e-4 * t * slope && t > 1e-12) { t /= 2; next = denseCrossEntropy(rows, u.map((x, i) => x + t * d[i])); }
    if (next.value >= at.value) break;
    u = u.map((x, i) => x + t * d[i]);
    at = next;
  }
  return { u, value: at.value, grad: at.grad };
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1, Math.abs(b));
const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

/** One-layer nets (no ReLU rescaling): well conditioned, so a moderate ball leaves the minimiser inside. */
const LINEAR_MSE: NetCase = { name: 'linear, MSE', make: () => tinyDense([5, 6], 3), input: [5], loss: meanSquaredError, classes: 6 };
const LINEAR_CE: NetCase = { name: 'softmax regression', make: () => tinyDense([5, 4], 3), input: [5], loss: softmaxCrossEntropy, classes: 4 };

/** The dense squared-error problem of a run and its exact ball minimum. */
function exactQuadratic(t: Awaited<ReturnType<typeof train>>) {
  const { A, b, c } = denseQuadratic(t.refs, t.centre);
  const P = t.centre.length;
  const exact = solveTrustRegion(symmetricEigen(A, P), b, t.ckpt.ball.radius[0]);
  // F(u) = uᵀAu + 2bᵀu + c: ∇F = 2(Au + b).
  const gradAt = (u: Float64Array) => Float64Array.from(b, (bi, i) => { let s = bi; for (let j = 0; j < P; j++) s += A[i * P + j] * u[j]; return 2 * s; });
  return { phi: c + exact.value, onBoundary: exact.onBoundary, gradAt, g0: 2 * norm(b) };
}

/** What the certificate claims, recomputed from the report (a certified value must meet it). */
function claims(rep: SolverReport) {
  return rep.residual! <= rep.tolerance!;
}

describe('GLTR (krylovTrustRegion) on explicit matrices', () => {
  /** A PSD matrix with eigenvalues spread over [1e-4, 10] (and a null space), and a random g in its range. */
  function problem(n: number, seed: number) {
    let s = seed;
    const rnd = () => { s = (s * 16807) % 2147483647; return s / 2147483647 - 0.5; };
    const M = Float64Array.from({ length: n * n }, rnd);
    const H = new Float64Array(n * n);
    const lam = Array.from({ length: n }, (_, i) => (i < 3 ? 0 : 1e-4 * 1e5 ** (i / (n - 1))));
    // H = Q diag(lam) Qᵀ with Q from Gram–Schmidt on M's columns.
    const Q: Float64Array[] = [];
    for (let j = 0; j < n; j++) {
      const v = Float64Array.from({ length: n }, (_, i) => M[i * n + j]);
      for (const q of Q) { const d = q.reduce((a, x, i) => a + x * v[i], 0); for (let i = 0; i < n; i++) v[i] -= d * q[i]; }
      const nv = norm(v);
      Q.push(v.map((x) => x / nv));
    }
    for (let k = 0; k < n; k++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) H[i * n + j] += lam[k] * Q[k][i] * Q[k][j];
    const g = new Float64Array(n);
    for (let k = 3; k < n; k++) { const c = rnd(); for (let i = 0; i < n; i++) g[i] += c * Q[k][i]; }
    const product = async (v: Float64Array) => Float64Array.from({ length: n }, (_, i) => { let t = 0; for (let j = 0; j < n; j++) t += H[i * n + j] * v[j]; return t; });
    return { H, g, product };
  }

  for (const [label, radius, shift] of [['boundary', 0.5, 0], ['interior', 1e6, 0], ['shifted, boundary', 2, 0.3]] as const) {
    it(`${label}: same minimiser as the eigendecomposition solve, with the residual it reports`, async () => {
      const n = 40;
      const { H, g, product } = problem(n, 11);
      const Hs = H.map((h, i) => (i % (n + 1) === 0 ? h + shift : h));
      // ½uᵀHu + gᵀu = uᵀ(H/2)u + 2(g/2)ᵀu, the form solveTrustRegion minimises (same value, same λ).
      const exact = solveTrustRegion(symmetricEigen(Hs.map((h) => h / 2), n), g.map((x) => x / 2), radius);
      const tr = await krylovTrustRegion(g, product, { radius, tolerance: 1e-10, maxIterations: 200, shift });
      expect(tr.converged).toBe(true);
      expect(tr.onBoundary).toBe(exact.onBoundary);
      expect(Math.abs(tr.model - exact.value)).toBeLessThan(1e-9 * Math.max(1, Math.abs(exact.value)));
      const Hu = await product(tr.u);
      const res = norm(Hu.map((v, i) => v + (shift + tr.lambda) * tr.u[i] + g[i])) / norm(g);
      expect(res).toBeLessThan(1e-9);
      expect(Math.abs(res - tr.residual)).toBeLessThan(1e-9);
      expect(norm(tr.u)).toBeLessThanOrEqual(radius * (1 + 1e-12));
    });
  }

  it('stops at maxIterations without claiming convergence; verify decides when it is given', async () => {
    const { g, product } = problem(40, 5);
    const short = await krylovTrustRegion(g, product, { radius: 1e6, tolerance: 1e-10, maxIterations: 3 });
    expect(short).toMatchObject({ iterations: 3, converged: false });
    const seen: number[] = [];
    const verified = await krylovTrustRegion(g, product, {
      radius: 1e6, tolerance: 1e-3, maxIterations: 200,
      verify: async (_u, _l, est) => { seen.push(est); return seen.length < 2 ? 'continue' : 'accept'; },
    });
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBeLessThanOrEqual(1e-3);
    expect(seen[1]).toBeLessThanOrEqual(seen[0] / 4);
    expect(verified.converged).toBe(true);
  });
});

describe('certified network-scope optimum', () => {
  beforeAll(async () => { await selectBackend('cpu'); });

  it('squared error, ball active: GLTR\'s Φ equals the dense trust-region minimum and the certificate holds in float64', async () => {
    const t = await train(MSE_NET, { feasible: { ballFactor: 0.3 } }, undefined, 36);
    const rep = t.ckpt.ball.solver[0];
    const ex = exactQuadratic(t);
    expect(rep.method).toMatch(/GLTR/);
    expect(rep).toMatchObject({ converged: true, certified: true, stop: 'converged', onBoundary: true, tolerance: 1e-6 });
    expect(ex.onBoundary).toBe(true);
    expect(claims(rep)).toBe(true);
    expect(rel(t.ckpt.ball.phi[0], ex.phi)).toBeLessThan(1e-6);
    // The reported u and λ satisfy the dense KKT conditions (float64, brute-force Jacobians) to the tolerance.
    const u = t.scope.optima()![0];
    expect(Math.abs(norm(u) - t.ckpt.ball.radius[0])).toBeLessThan(1e-9 * t.ckpt.ball.radius[0]);
    const G = ex.gradAt(u);
    expect(norm(G.map((v, i) => v + rep.lambda! * u[i])) / ex.g0).toBeLessThan(2 * rep.tolerance!);
    expect(rep.lambda!).toBeGreaterThan(0);
    // Φ is the value of the reported point, and no trajectory point inside the ball beats it.
    const atU = bruteObjective(t.refs, u.length, 'mse', t.centre.map((c, i) => c + u[i])).value;
    expect(rel(atU, t.ckpt.ball.phi[0])).toBeLessThan(1e-6);
    t.done();
  });

  it('squared error, ball inactive: the interior minimum (λ = 0) of a well-conditioned net', async () => {
    const t = await train(LINEAR_MSE, { feasible: { ballFactor: 100 } }, undefined, 24);
    const rep = t.ckpt.ball.solver[0];
    const ex = exactQuadratic(t);
    expect(ex.onBoundary).toBe(false);
    expect(rep).toMatchObject({ converged: true, certified: true, onBoundary: false, lambda: 0 });
    expect(claims(rep)).toBe(true);
    expect(rel(t.ckpt.ball.phi[0], ex.phi)).toBeLessThan(1e-6);
    const u = t.scope.optima()![0];
    expect(norm(ex.gradAt(u)) / ex.g0).toBeLessThan(2 * rep.tolerance!);
    t.done();
  });

  it('the tolerance is honoured: a loose one stops earlier within its own bound, an unreachable one is flagged, never passed off', async () => {
    const runs = [];
    for (const tolerance of [1e-3, 1e-6, 1e-12]) {
      const t = await train(MSE_NET, { feasible: { ballFactor: 0.3 }, solver: { tolerance } }, undefined, 36);
      const rep = t.ckpt.ball.solver[0];
      const ex = exactQuadratic(t);
      const u = t.scope.optima()![0];
      const denseResidual = norm(ex.gradAt(u).map((v, i) => v + rep.lambda! * u[i])) / ex.g0;
      runs.push({ tolerance, rep, phi: t.ckpt.ball.phi[0], exact: ex.phi, denseResidual });
      t.done();
    }
    const [loose, normal, tight] = runs;
    for (const r of [loose, normal]) {
      expect(r.rep.certified).toBe(true);
      expect(r.rep.residual!).toBeLessThanOrEqual(r.tolerance);
      // The dense residual agrees with the reported one up to float32 rounding of the products.
      expect(r.denseResidual).toBeLessThan(r.tolerance + 1e-6);
      // The Frank–Wolfe gap bounds the error of the value (plus float32 rounding of the sums).
      expect(r.phi - r.exact).toBeLessThanOrEqual(r.rep.gap! + 1e-6 * Math.abs(r.exact));
      expect(r.phi - r.exact).toBeGreaterThan(-1e-6 * Math.abs(r.exact));
    }
    expect(loose.rep.products!).toBeLessThan(normal.rep.products!);
    // 1e-12 is below what float32 products can show: reported as such, not as a result.
    expect(tight.rep.certified).toBe(false);
    expect(tight.rep.residual!).toBeGreaterThan(tight.tolerance);
    expect(['stalled', 'iterations']).toContain(tight.rep.stop);
    expect(rel(tight.phi, tight.exact)).toBeLessThan(1e-6);
  });

  it('squared error, a ball too large for float32 products to certify: flagged, and the value still bounded', async () => {
    const t = await train(MSE_NET, { feasible: { ballFactor: 3000 } }, undefined, 36);
    const rep = t.ckpt.ball.solver[0];
    const ex = exactQuadratic(t);
    const phi = t.ckpt.ball.phi[0];
    expect(rep.certified).toBe(claims(rep) && rep.converged);
    if (rep.certified) expect(phi - ex.phi).toBeLessThanOrEqual(rep.gap! + 1e-6 * Math.abs(ex.phi));
    expect(phi).toBeGreaterThan(ex.phi - 1e-6 * Math.abs(ex.phi));
    expect(phi - ex.phi).toBeLessThanOrEqual(Math.max(rep.gap!, 1e-5 * Math.abs(ex.phi)));
    t.done();
  });

  it('cross-entropy, ball active: Newton\'s Φ equals a long dense Newton run and the certificate holds', async () => {
    const t = await train(CE_NET, { feasible: { ballFactor: 0.3 } }, undefined, 24, true);
    const rep = t.ckpt.ball.solver[0];
    const ref = denseNewton(denseRows(t.refs, t.centre), t.ckpt.ball.radius[0]);
    expect(rep.method).toMatch(/Newton/);
    expect(rep).toMatchObject({ converged: true, certified: true, onBoundary: true });
    expect(claims(rep)).toBe(true);
    expect(norm(ref.u)).toBeGreaterThan(t.ckpt.ball.radius[0] * (1 - 1e-9));
    expect(rel(t.ckpt.ball.phi[0], ref.value)).toBeLessThan(1e-6);
    t.done();
  });

  it('cross-entropy, ball inactive: the interior minimum of softmax regression on soft targets', async () => {
    const t = await train(LINEAR_CE, { feasible: { ballFactor: 100 } }, undefined, 24, true);
    const rep = t.ckpt.ball.solver[0];
    const ref = denseNewton(denseRows(t.refs, t.centre), t.ckpt.ball.radius[0]);
    expect(norm(ref.u)).toBeLessThan(t.ckpt.ball.radius[0] * 0.99);
    expect(norm(ref.grad)).toBeLessThan(1e-9);
    expect(rep).toMatchObject({ converged: true, certified: true, onBoundary: false, lambda: 0 });
    expect(rel(t.ckpt.ball.phi[0], ref.value)).toBeLessThan(1e-6);
    t.done();
  });

  for (const net of [NETS[2], NETS[3]]) {
    it(`${net.name} (clamped pushes through autodiff, not the dense-chain path): certified and equal to the dense reference`, async () => {
      const ce = net.loss === softmaxCrossEntropy;
      const t = await train(net, { feasible: { ballFactor: 0.5 } }, undefined, 12, ce);
      const rep = t.ckpt.ball.solver[0];
      const reference = ce ? denseNewton(denseRows(t.refs, t.centre), t.ckpt.ball.radius[0]).value : exactQuadratic(t).phi;
      expect(rep).toMatchObject({ converged: true, certified: true });
      expect(rel(t.ckpt.ball.phi[0], reference)).toBeLessThan(1e-6);
      t.done();
    });
  }

  it('a solve that runs out of iterations is flagged: report, section flags, summary table, compare', async () => {
    const cases = [
      { net: MSE_NET, options: { solver: { krylovIterations: 2 } } },
      { net: CE_NET, options: { solver: { maxIterations: 1 } } },
    ];
    const dirs: string[] = [];
    const stores = [];
    for (const c of cases) {
      const store = tempStore();
      const t = await train(c.net, { feasible: { ballFactor: 0.3 }, ...c.options }, store, 12, c.net === CE_NET);
      const rep = t.ckpt.ball.solver[0];
      expect(rep).toMatchObject({ converged: false, certified: false, stop: 'iterations' });
      const json = JSON.parse(fs.readFileSync(path.join(store.dir, 'regret', 'regret.json'), 'utf8')) as RegretFile;
      expect(json.scopes.network.checkpoints.at(-1)!.ball.solver[0].certified).toBe(false);
      const [section] = await reportSections(store.dir);
      expect(section.flags!.join('\n')).toMatch(/network, epoch 1 \(round 4\): Φ NOT CERTIFIED \(KKT residual .* stopped: iterations\)/);
      const table = section.tables![0] as { rows: { scope: string; certificate: string }[] };
      expect(table.rows.find((r) => r.scope === 'network')!.certificate).toBe('NOT CERTIFIED');
      expect(section.notes!.join('\n')).toMatch(/network: .*NOT CERTIFIED/);
      // The report renders the flags where a reader cannot miss them.
      const html = await buildReport({ title: 't', meta: {}, sections: [section as never] });
      expect(html).toMatch(/class="flags"[^]*NOT CERTIFIED/);
      dirs.push(store.dir);
      stores.push(store);
      t.done();
    }
    const [compare] = await taylorlensPlugin.compareSections!([{ label: 'mse', dir: dirs[0] }, { label: 'ce', dir: dirs[1] }]);
    expect(compare.flags).toHaveLength(2);
    expect(compare.flags![0]).toMatch(/^mse: network, epoch 1 .*NOT CERTIFIED/);
    for (const s of stores) s.cleanup();
  });
});
