import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { meanSquaredError, selectBackend, Trainer } from '@taylorlens/core';
import { BlockEigen, RegretPlugin, solveTrustRegion, leastNormMinimum, supportEigen, symmetricEigen } from '@taylorlens/plugin-regret';
import { checkOptimum } from './helpers/optimum-check.js';
import { checkTaylor } from './helpers/taylor-check.js';
import { NETS, type NetCase } from './helpers/nets.js';

/** A dense net whose output layer has a nonlinear elementwise activation: its unit blocks differ. */
function sigmoidOutput(seed: number): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ inputShape: [5], units: 4, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed }) }));
  m.add(tfl.layers.dense({ units: 6, activation: 'sigmoid', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }));
  return m;
}
const SIGMOID_NET: NetCase = { name: 'dense, sigmoid output, MSE', make: () => sigmoidOutput(3), input: [5], loss: meanSquaredError, classes: 6 };
const LAYERS_ONLY = { network: { enabled: false }, neurons: { enabled: false }, layers: { every: 1 }, budget: { maxOverhead: 1e6 }, trace: false };

/** Random symmetric q×q blocks (PSD unless `shift`), and the dense interleaved matrix they make (Θ `[q, K]` row-major). */
function blockProblem(K: number, q: number, seed: number, shared: boolean, shift = 0) {
  let s = seed;
  const rnd = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 - 0.5; };
  const blocks = Array.from({ length: shared ? 1 : K }, () => {
    const R = Array.from({ length: q * q }, rnd);
    const A = new Float64Array(q * q);
    for (let i = 0; i < q; i++) for (let j = 0; j < q; j++) { let v = 0; for (let m = 0; m < q; m++) v += R[i * q + m] * R[j * q + m]; A[i * q + j] = v - (i === j ? shift : 0); }
    return A;
  });
  const P = K * q;
  const dense = new Float64Array(P * P);
  for (let j = 0; j < K; j++) {
    const A = blocks[shared ? 0 : j];
    for (let a = 0; a < q; a++) for (let b = 0; b < q; b++) dense[(a * K + j) * P + b * K + j] = A[a * q + b];
  }
  const eigs = blocks.map((A) => symmetricEigen(A, q));
  return { block: new BlockEigen(Array.from({ length: K }, (_, j) => eigs[shared ? 0 : j]), q), dense: symmetricEigen(dense, P), P, rnd };
}

describe('layer scope of a squared-error output layer as unit blocks', () => {
  beforeAll(async () => { await selectBackend('cpu'); });

  it('BlockEigen: the same spectrum, trust-region and least-norm solutions as the dense decomposition (boundary, interior, indefinite, hard case)', () => {
    for (const [K, q, shared, shift] of [[4, 3, false, 0], [5, 4, true, 0], [3, 5, false, 0.8], [6, 2, true, 0.3]] as const) {
      const { block, dense, P, rnd } = blockProblem(K, q, 7 + K, shared, shift);
      expect(block.n).toBe(P);
      for (let i = 0; i < P; i++) expect(block.values[i]).toBeCloseTo(dense.values[i], 10);
      const g = Float64Array.from({ length: P }, rnd);
      for (const r of [0.05, 0.5, 50]) {
        const a = solveTrustRegion(block, g, r);
        const b = solveTrustRegion(dense, g, r);
        expect(Math.abs(a.value - b.value)).toBeLessThan(1e-10 * Math.max(1, Math.abs(b.value)));
        expect(a.residual).toBeLessThan(1e-9);
        for (let i = 0; i < P; i++) expect(a.u[i]).toBeCloseTo(b.u[i], 8);
      }
      const ln = leastNormMinimum(block, g);
      const lnDense = leastNormMinimum(dense, g);
      expect(ln.unbounded).toBe(lnDense.unbounded);
      expect(ln.unbounded).toBe(shift > 0);
      if (!ln.unbounded) expect(Math.abs(ln.value - lnDense.value)).toBeLessThan(1e-9 * Math.max(1, Math.abs(ln.value)));
      // Hard case: g with no component along the lowest eigenvector (a repeated one when the blocks are shared).
      const gh = block.toEigenbasis(g);
      for (let i = 0; i < P; i++) if (block.values[i] - block.values[0] < 1e-12) gh[i] = 0;
      const gHard = block.fromEigenbasis(gh);
      const hard = solveTrustRegion(block, gHard, 50);
      expect(hard.value).toBeCloseTo(solveTrustRegion(dense, gHard, 50).value, 7);
      expect(hard.residual).toBeLessThan(1e-8);
    }
  });

  it('supportEigen: zero rows (inputs never seen, dead units) decouple with eigenvalue 0; the same solutions as the full decomposition, a zero matrix included', () => {
    let s = 5;
    const rnd = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 - 0.5; };
    const n = 9;
    for (const support of [[0, 2, 3, 7], [4], [], [0, 1, 2, 3, 4, 5, 6, 7, 8]]) {
      const A = new Float64Array(n * n);
      const R = Array.from({ length: n * n }, rnd);
      for (const i of support) for (const j of support) { let v = 0; for (let m = 0; m < n; m++) v += R[i * n + m] * R[j * n + m]; A[i * n + j] = v; }
      const reduced = supportEigen(A, n);
      const full = symmetricEigen(A, n);
      for (let i = 0; i < n; i++) expect(reduced.values[i]).toBeCloseTo(full.values[i], 12);
      const g = Float64Array.from({ length: n }, rnd); // nonzero on the zero rows too: a linear term there
      for (const r of [0.1, 1, 100]) {
        const a = solveTrustRegion(reduced, g, r);
        const b = solveTrustRegion(full, g, r);
        expect(a.value).toBeCloseTo(b.value, 10);
        expect(a.residual).toBeLessThan(1e-9);
        for (let i = 0; i < n; i++) expect(a.u[i]).toBeCloseTo(b.u[i], 8);
      }
      expect(leastNormMinimum(reduced, g).rank).toBe(leastNormMinimum(full, g).rank);
      const back = reduced.fromEigenbasis(reduced.toEigenbasis(g));
      for (let i = 0; i < n; i++) expect(back[i]).toBeCloseTo(g[i], 12);
    }
  });

  it('the output layer (linear: one shared block; sigmoid: a block per unit) is held as unit blocks; hidden layers are not', async () => {
    for (const [net, layers] of [[NETS[0], 3], [SIGMOID_NET, 2]] as const) {
      const plugin = new RegretPlugin(LAYERS_ONLY);
      plugin.retain = true;
      const trainer = new Trainer(net.make(), { loss: net.loss, optimizer: tf.train.sgd(0.1), plugins: [plugin] });
      const x = tf.randomNormal([6, 5], 0, 1, 'float32', 1);
      const y = tf.randomUniform([6, 6], 0, 1, 'float32', 2);
      await trainer.fit(x, y, { epochs: 1, batchSize: 3, shuffle: false });
      const structures = plugin.scopes.map((s) => s.desc.structure ?? null);
      expect(structures).toEqual([...new Array(layers - 1).fill(null), 'unit-blocks']);
      expect(plugin.scopes.at(-1)!.desc.params).toBe(trainer.anatomy.layers.at(-1)!.layer.countParams());
      plugin.dispose();
      tf.dispose([x, y]);
    }
  });

  it(`${SIGMOID_NET.name}: τ and its gradient against per-output backward passes`, () => checkTaylor(SIGMOID_NET));
  it(`${SIGMOID_NET.name}: the checkpoint optimum equals a direct minimisation over the stored rounds`, () => checkOptimum(SIGMOID_NET, { ...LAYERS_ONLY, neurons: { perLayer: 2, every: 1 } }));

  it('an autoencoder-wide output layer (784 units, 40k parameters: 12 GB as one matrix) records and solves in memory', async () => {
    const m = tfl.sequential();
    m.add(tfl.layers.dense({ inputShape: [784], units: 16, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }));
    m.add(tfl.layers.dense({ units: 784, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }));
    const plugin = new RegretPlugin({ ...LAYERS_ONLY, layers: { layers: [1], every: 1 }, budget: { maxOverhead: 1e6, memoryMB: 512 } });
    plugin.retain = true;
    const trainer = new Trainer(m, { loss: meanSquaredError, optimizer: tf.train.sgd(0.05), plugins: [plugin] });
    const x = tf.randomUniform([64, 784], 0, 1, 'float32', 3);
    const before = tf.memory().numTensors;
    await trainer.fit(x, x, { epochs: 2, batchSize: 16, seed: 1 });
    const c = plugin.results.scopes['layer:' + trainer.anatomy.layers[1].name].checkpoints.at(-1)!;
    expect(c.recordedRounds).toBe(8);
    expect(c.ball.solver[0].converged).toBe(true);
    expect(c.ball.regret[0]).toBeGreaterThanOrEqual(-1e-6 * c.cumulativeLoss);
    expect(Number.isFinite(c.ball.phi[0])).toBe(true);
    plugin.dispose();
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
    x.dispose();
  });
});
