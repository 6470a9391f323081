import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { meanSquaredError, selectBackend } from '@taylorlens/core';
import { checkOptimum } from './helpers/optimum-check.js';
import { checkTaylor } from './helpers/taylor-check.js';
import type { NetCase } from './helpers/nets.js';
import { denseNeuronReducer, sparseNeuronAccumulator, wideDenseNeuronReducer } from '../src/quadratic/dense-neuron-statistics.js';
import { addBlockSymmetric, blockLayout } from '../src/quadratic/packed.js';
import { addFull, addUpper, QuadraticStatistics } from '../src/quadratic/statistics.js';

beforeAll(async () => { await selectBackend('wasm'); });

describe('dense neuron statistics for wide fan-in', () => {
  for (const zeros of [false, true]) it(`the batched-matmul reducer gives the same A, g, c as the packed outer products${zeros ? ' (inactive samples and a dead unit: zero n skipped)' : ''}`, () => {
    const K = 3, q = 9, B = 5;
    // n_bα = 0 where unit α is inactive on sample b (ReLU), for every sample of a dead unit (the last).
    const weights = (r: number) => tf.tidy(() => {
      const n = tf.randomNormal([B, K], 0, 1, 'float32', 20 + r);
      return zeros ? tf.mul(tf.relu(n), tf.tensor2d([1, 1, 0], [1, K])) : tf.abs(n);
    });
    const rounds = [0, 1].map((r) => [
      tf.randomNormal([B, q], 0, 1, 'float32', 10 + r),
      weights(r),
      tf.randomNormal([B, K], 0, 1, 'float32', 30 + r),
      tf.randomNormal([K], 0, 1, 'float32', 40 + r),
    ]);
    const before = tf.memory().numTensors;
    const packed = tf.tidy(() => Object.values(denseNeuronReducer(rounds)).map((t) => t.dataSync()));
    const wide = tf.tidy(() => Object.values(wideDenseNeuronReducer(rounds)).map((t) => t.dataSync()));
    expect(tf.memory().numTensors).toBe(before);
    const Apacked = new Float64Array(K * q * q);
    const Awide = new Float64Array(K * q * q);
    addBlockSymmetric(packed[0], K, blockLayout(q), Apacked);
    addFull(K, q)(wide[0], Awide);
    // Brute force: A_α = Σ_b n_bα x_b x_bᵀ.
    const Abrute = new Float64Array(K * q * q);
    for (const [x, n] of rounds.map((r) => [r[0].dataSync(), r[1].dataSync()])) {
      for (let a = 0; a < K; a++) for (let b = 0; b < B; b++) for (let i = 0; i < q; i++) for (let j = 0; j < q; j++) {
        Abrute[(a * q + i) * q + j] += n[b * K + a] * x[b * q + i] * x[b * q + j];
      }
    }
    for (let i = 0; i < Abrute.length; i++) {
      expect(Awide[i]).toBeCloseTo(Abrute[i], 4);
      expect(Apacked[i]).toBeCloseTo(Abrute[i], 4);
    }
    for (let i = 1; i < 3; i++) for (let j = 0; j < packed[i].length; j++) expect(wide[i][j]).toBeCloseTo(packed[i][j], 5);
    tf.dispose(rounds.flat());
  });
});

describe('wide sparse inputs: A accumulated on the host from the nonzero entries', () => {
  const sums: Record<string, Float64Array> = {};
  /** Rounds of pieces [x̃, κn, h, c'] with x̃ `zeros` zero (MNIST-like), n zero on inactive samples and a dead unit. */
  const sparseRounds = (R: number, B: number, K: number, q: number, zeros: number, seed: number) => Array.from({ length: R }, (_, r) => tf.tidy(() => {
    const dense = tf.randomUniform([B, q], 0, 1, 'float32', seed + r);
    const keep = tf.cast(tf.greater(tf.randomUniform([B, q], 0, 1, 'float32', seed + 50 + r), zeros), 'float32');
    const x = tf.concat([tf.slice(tf.mul(dense, keep), [0, 0], [B, q - 1]), tf.ones([B, 1])], 1);
    const n = tf.mul(tf.relu(tf.randomNormal([B, K], 0, 1, 'float32', seed + 100 + r)), tf.concat([tf.ones([1, K - 1]), tf.zeros([1, 1])], 1));
    return [x, n, tf.randomNormal([B, K], 0, 1, 'float32', seed + 200 + r), tf.randomNormal([K], 0, 1, 'float32', seed + 300 + r)];
  }));
  const brute = (rounds: tf.Tensor[][], K: number, q: number) => {
    const A = new Float64Array(K * q * q);
    for (const [xt, nt] of rounds) {
      const x = xt.dataSync();
      const n = nt.dataSync();
      const B = xt.shape[0];
      for (let a = 0; a < K; a++) for (let b = 0; b < B; b++) for (let i = 0; i < q; i++) for (let j = 0; j < q; j++) A[(a * q + i) * q + j] += n[b * K + a] * x[b * q + i] * x[b * q + j];
    }
    return A;
  };

  for (const offThread of [false, true]) it(`sparse buffers go to the host${offThread ? ' (a worker thread)' : ''} (float64: equal to a float64 brute force to 1e-12), dense ones to the device; mixed, the totals are one symmetric A`, async () => {
    const K = 4, q = 140, B = 6;
    const sparse = sparseRounds(3, B, K, q, 0.85, 1);
    const dense = sparseRounds(3, B, K, q, 0, 9);
    const expectSparse = brute(sparse, K, q);
    const expectAll = brute([...sparse, ...dense], K, q);
    const factory = sparseNeuronAccumulator(K, q, offThread);
    let onHost = 0;
    const counting: typeof factory = {
      create: (length) => {
        const inner = factory.create(length)!;
        return { ...inner, take: (rounds) => { const job = inner.take(rounds); if (job) onHost++; return job; } };
      },
    };
    const stats = new QuadraticStatistics(K, q, wideDenseNeuronReducer, addUpper(K, q), 3, 100, counting);
    expect(stats.A.buffer instanceof SharedArrayBuffer).toBe(true); // the kernel's shared memory
    const before = tf.memory().numTensors;
    for (const r of sparse) await stats.add(r.map((t) => t.clone()));
    await stats.flush();
    expect(onHost).toBe(1);
    let worst = 0;
    const scale = Math.max(...expectSparse.map(Math.abs));
    for (let i = 0; i < expectSparse.length; i++) worst = Math.max(worst, Math.abs(stats.A[i] - expectSparse[i]));
    expect(worst / scale).toBeLessThan(1e-12);
    sums[String(offThread)] = Float64Array.from(stats.A);
    if (offThread) expect(sums.true).toEqual(sums.false); // the worker sums in the same order: the same bits
    for (const r of dense) await stats.add(r.map((t) => t.clone()));
    await stats.flush();
    expect(onHost).toBe(1); // the dense buffer declined: the device formed its A
    for (let i = 0; i < expectAll.length; i++) expect(stats.A[i]).toBeCloseTo(expectAll[i], 3);
    for (let k = 0; k < K; k++) for (let i = 0; i < q; i++) for (let j = 0; j < i; j++) expect(stats.A[(k * q + i) * q + j]).toBe(stats.A[(k * q + j) * q + i]);
    stats.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...sparse.flat(), ...dense.flat()]);
  });
});

describe('the input layer of a net on sparse wide inputs (host-accumulated statistics) against brute force', () => {
  const net: NetCase = {
    name: 'dense 160 → 3 ReLU → 4 on inputs 85% zero, MSE', input: [160], loss: meanSquaredError, classes: 4,
    make: () => {
      const m = tfl.sequential();
      m.add(tfl.layers.dense({ inputShape: [160], units: 3, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) }));
      m.add(tfl.layers.dense({ units: 4, kernelInitializer: tfl.initializers.glorotUniform({ seed: 5 }) }));
      return m;
    },
    data: (n, seed) => tf.tidy(() => {
      const x = tf.mul(tf.randomUniform([n, 160], 0, 2, 'float32', seed), tf.cast(tf.greater(tf.randomUniform([n, 160], 0, 1, 'float32', seed + 1), 0.85), 'float32'));
      return { x, y: tf.randomNormal([n, 4], 0, 1, 'float32', seed + 2) };
    }),
  };
  const options = { network: { enabled: false }, layers: { enabled: false }, neurons: { layers: [0], perLayer: 3, every: 1, subBatch: null }, budget: { maxOverhead: 1e6 }, trace: false };
  beforeAll(async () => { await selectBackend('cpu'); });
  it('τ and its gradient against per-output backward passes', () => checkTaylor(net, options));
  it('the checkpoint optimum equals a direct minimisation over the stored rounds', () => checkOptimum(net, options));
});
