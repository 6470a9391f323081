// Class-index targets ([B] or [B, 1], as tfjs's sparseCategoricalCrossentropy takes them) through
// the regret plugin's stored-round scopes (layer, neuron, network): the Taylor losses against the
// brute-force helpers, the hindsight optimum against a direct minimisation, and the same numbers
// as one-hot targets with softmax cross-entropy.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { decodeNpy, resolveLoss, selectBackend, softmaxCrossEntropy, sparseSoftmaxCrossEntropy, Trainer, type TaylorLoss } from '@taylorlens/core';
import { RegretPlugin } from '@taylorlens/plugin-regret';
import { bruteMinimum, bruteObjective } from './helpers/brute-optimum.js';
import { disposeRounds, type NetCase } from './helpers/nets.js';
import { bruteRounds, trainKeepingRounds } from './helpers/optimum-check.js';
import { displacement, taylorSums } from './helpers/scopes.js';
import { tempStore } from './helpers/store.js';
import { checkTaylor } from './helpers/taylor-check.js';

const CLASSES = 4;

/** Dense ReLU 5-4-3 and a softmax output of 4, compiled with sparseCategoricalCrossentropy (optimizer by name: owned and disposed with the model). */
function sparseClassifier(seed: number): tfl.LayersModel {
  const init = (s: number) => ({ kernelInitializer: tfl.initializers.glorotUniform({ seed: s }), biasInitializer: tfl.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: s + 1000 }) });
  const m = tfl.sequential({ layers: [
    tfl.layers.dense({ inputShape: [5], units: 4, activation: 'relu', ...init(seed) }),
    tfl.layers.dense({ units: 3, activation: 'relu', ...init(seed + 1) }),
    tfl.layers.dense({ units: CLASSES, activation: 'softmax', ...init(seed + 2) }),
  ] });
  m.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: 'sgd' });
  return m;
}

type Layout = 'labels [B] int32' | 'labels [B, 1] float32' | 'one-hot';

function data(n: number, seed: number, layout: Layout): { x: tf.Tensor; y: tf.Tensor } {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, 5], 0, 1, 'float32', seed);
    const labels = tf.randomUniform([n], 0, CLASSES, 'int32', seed + 1);
    const y = layout === 'labels [B] int32' ? labels
      : layout === 'labels [B, 1] float32' ? tf.reshape(tf.cast(labels, 'float32'), [n, 1])
        : tf.oneHot(labels, CLASSES, 1, 0, 'float32');
    return { x, y };
  });
}

const net = (layout: Layout, loss: TaylorLoss = sparseSoftmaxCrossEntropy): NetCase => ({
  name: `dense ReLU, softmax output, sparse cross-entropy (${layout})`,
  make: () => sparseClassifier(2), input: [5], loss, classes: CLASSES,
  data: (n, seed) => data(n, seed, layout),
});

const oneHotOf = (labels: Float64Array, pL: number) => {
  const out = new Float64Array(labels.length * pL);
  labels.forEach((c, b) => { out[b * pL + Math.floor(c)] = 1; });
  return out;
};

describe('sparse class targets in the regret plugin (cpu)', () => {
  beforeAll(async () => { await selectBackend('cpu'); });

  it('the compiled model resolves to sparse softmax cross-entropy on the logits (softmax absorbed)', () => {
    const m = sparseClassifier(2);
    expect(resolveLoss(m)).toBe(sparseSoftmaxCrossEntropy);
    m.dispose();
  });

  for (const layout of ['labels [B] int32', 'labels [B, 1] float32'] as const) {
    it(`${layout}: τ(W_n) = ℓ_n, ∇τ(W_n) = ∇ℓ, Σ τ^n at W_{n+1} and elsewhere against a brute-force Jacobian, at every scope`, () => checkTaylor(net(layout)));
  }

  it('labels [B] int32: the checkpoint optimum of every scope equals a direct minimisation of the one-hot cross-entropy, lies in the ball and beats every trajectory point', async () => {
    const { model, plugin, optimizer, trainer, kept, x, y } = await trainKeepingRounds(net('labels [B] int32'), {
      network: { every: 2 }, layers: { every: 1 }, neurons: { perLayer: 1, subBatch: null, every: 1 }, budget: { maxOverhead: 1e6 }, trace: false,
      solver: { gapTolerance: 1e-7, maxIterations: 300 },
    });
    const results = plugin.results.scopes;
    const kinds = new Set(plugin.scopes.map((s) => s.desc.kind));
    expect([...kinds].sort()).toEqual(['layer', 'network', 'neurons']);
    for (const scope of plugin.scopes) {
      const ckpt = results[scope.desc.key].checkpoints.at(-1)!;
      const recorded = kept.filter((r) => scope.desc.kind !== 'network' || (r.round - 1) % 2 === 0);
      expect(ckpt.recordedRounds).toBe(recorded.length);
      const centre = scope.centre()!.dataSync();
      const optima = scope.optima()!;
      const P = scope.desc.params;
      for (let k = 0; k < scope.desc.problems && k < 2; k++) {
        const c = Float64Array.from(centre.subarray(k * P, (k + 1) * P));
        // The brute-force rounds carry the class indices; the reference objective wants one-hot rows.
        const rounds = bruteRounds(trainer, scope, recorded, k).map((r) => {
          expect(r.y.length).toBe(r.B);
          return { ...r, y: oneHotOf(r.y, r.pL) };
        });
        const r = ckpt.ball.radius[k];
        const phi = ckpt.ball.phi[k];
        const tol = 1e-5 * Math.max(1, Math.abs(phi));
        const uStar = optima[k];
        expect(Math.hypot(...uStar)).toBeLessThanOrEqual(r * (1 + 1e-6) + 1e-12);
        expect(Math.abs(bruteObjective(rounds, P, 'ce', uStar.map((u, i) => c[i] + u)).value - phi)).toBeLessThan(tol);
        const brute = bruteMinimum(rounds, P, 'ce', c, r);
        expect(phi).toBeLessThanOrEqual(brute.value + tol);
        expect(brute.value - phi).toBeLessThan(Math.max(tol, ckpt.ball.solver[k].gap ?? 0));
        for (const w of recorded) {
          const vk = scope.readParams(w.before);
          const u = displacement(scope, vk);
          if (Math.hypot(...u[k]) <= r) expect(phi).toBeLessThanOrEqual((await taylorSums(scope, u)).values[k] + tol);
          vk.dispose();
        }
        const incurred = recorded.reduce((s, w) => s + w.loss, 0);
        expect(Math.abs(ckpt.ball.regret[k] - (incurred - phi))).toBeLessThan(tol);
      }
    }
    plugin.dispose();
    disposeRounds(kept);
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
  });

  it('labels [B], labels [B, 1] and one-hot targets with softmax cross-entropy: the same losses, Taylor optima and regret', async () => {
    const run = async (layout: Layout, loss: TaylorLoss) => {
      const model = sparseClassifier(3);
      const plugin = new RegretPlugin({
        network: { every: 1 }, layers: { every: 1 }, neurons: { perLayer: 2, every: 1 }, budget: { maxOverhead: 1e6 }, trace: false,
        solver: { gapTolerance: 1e-8, maxIterations: 300 },
      });
      const optimizer = tf.train.sgd(0.3);
      const { x, y } = data(24, 5, layout);
      await new Trainer(model, { loss, optimizer, plugins: [plugin] }).fit(x, y, { epochs: 2, batchSize: 6, shuffle: false });
      const out: Record<string, number[]> = {};
      const names = model.layers.map((l) => l.name); // scope keys name layers; tfjs numbers them per model
      // The network scope's certified Newton solver knows sparse softmax cross-entropy's curvature
      // (Hessian products counted), as it knows the one-hot form's: not the L-BFGS fallback.
      for (const c of plugin.results.scopes.network.checkpoints) {
        expect(c.ball.solver![0]).toMatchObject({ certified: true, method: expect.stringMatching(/regularised Newton.*cross-entropy Hessian/) });
      }
      for (const [key, s] of Object.entries(plugin.results.scopes)) {
        const k = names.reduce((acc, n, i) => acc.replace(n, `layer${i}`), key);
        out[k] = s.checkpoints.flatMap((c) => [c.cumulativeLoss, ...c.ball.phi, ...c.ball.regret]);
      }
      plugin.dispose();
      tf.dispose([x, y]);
      model.dispose();
      optimizer.dispose();
      return out;
    };
    const dense = await run('one-hot', softmaxCrossEntropy);
    expect(Object.keys(dense).length).toBeGreaterThanOrEqual(3);
    for (const layout of ['labels [B] int32', 'labels [B, 1] float32'] as const) {
      const sparse = await run(layout, sparseSoftmaxCrossEntropy);
      expect(Object.keys(sparse).sort()).toEqual(Object.keys(dense).sort());
      for (const [key, values] of Object.entries(dense)) {
        values.forEach((v, i) => expect(Math.abs(sparse[key][i] - v)).toBeLessThan(1e-5 * Math.max(1, Math.abs(v))));
      }
    }
  });

  it('int32 labels: losses.npy holds ℓ_n of the float64 sparse cross-entropy, and the trace keeps the labels as float32 y.npy', async () => {
    const store = tempStore(2);
    const model = sparseClassifier(4);
    const optimizer = tf.train.sgd(0.3);
    const plugin = new RegretPlugin({ network: { every: 1 }, neurons: { perLayer: 2 }, budget: { maxOverhead: 1e6 } });
    const trainer = new Trainer(model, { optimizer, plugins: [plugin], store });
    const { x, y } = data(12, 8, 'labels [B] int32');
    const labels = await y.data();
    await trainer.fit(x, y, { epochs: 1, batchSize: 6, shuffle: false });
    const losses = decodeNpy(fs.readFileSync(path.join(store.dir, 'regret', 'losses.npy')));
    for (const n of [1, 2]) {
      const dir = path.join(store.traceDir!, 'regret', `round-00000${n}`);
      const [f, yy] = ['f', 'y'].map((k) => decodeNpy(fs.readFileSync(path.join(dir, `${k}.npy`))));
      expect(yy.dtype).toBe('float32');
      expect(yy.shape).toEqual([6]);
      expect(Array.from(yy.data)).toEqual(Array.from(labels.subarray(6 * (n - 1), 6 * n)));
      let sum = 0;
      for (let b = 0; b < 6; b++) {
        const row = Array.from(f.data.subarray(b * CLASSES, (b + 1) * CLASSES));
        const m = Math.max(...row);
        sum += m + Math.log(row.reduce((t, v) => t + Math.exp(v - m), 0)) - row[yy.data[b]];
      }
      expect(Math.abs(losses.data[n - 1] - sum / 6)).toBeLessThan(1e-12 * (sum / 6));
    }
    tf.dispose([x, y]);
    plugin.dispose();
    model.dispose();
    optimizer.dispose();
    store.cleanup();
  });
});
