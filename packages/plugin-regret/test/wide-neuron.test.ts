import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@taylorlens/core';
import { denseNeuronReducer, wideDenseNeuronReducer } from '../src/quadratic/dense-neuron-statistics.js';
import { addBlockSymmetric } from '../src/quadratic/packed.js';
import { addFull } from '../src/quadratic/statistics.js';

beforeAll(async () => { await selectBackend('wasm'); });

describe('dense neuron statistics for wide fan-in', () => {
  it('the batched-matmul reducer gives the same A, g, c as the packed outer products', () => {
    const K = 3, q = 9, B = 5;
    const rounds = [0, 1].map((r) => [
      tf.randomNormal([B, q], 0, 1, 'float32', 10 + r),
      tf.abs(tf.randomNormal([B, K], 0, 1, 'float32', 20 + r)),
      tf.randomNormal([B, K], 0, 1, 'float32', 30 + r),
      tf.randomNormal([K], 0, 1, 'float32', 40 + r),
    ]);
    const before = tf.memory().numTensors;
    const packed = tf.tidy(() => Object.values(denseNeuronReducer(rounds)).map((t) => t.dataSync()));
    const wide = tf.tidy(() => Object.values(wideDenseNeuronReducer(rounds)).map((t) => t.dataSync()));
    expect(tf.memory().numTensors).toBe(before);
    const Apacked = new Float64Array(K * q * q);
    const Awide = new Float64Array(K * q * q);
    addBlockSymmetric(packed[0], K, q, Apacked);
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
