// Our optimizers as tf.Optimizers in tfjs-layers: model.compile({ optimizer }) and model.fit, on
// the wasm backend the benchmarks use.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@taylorlens/core';
import { adam, noisySGD, rprop } from '@taylorlens/plugin-optimizers';
import { expectClose } from './helpers.js';

let x: tf.Tensor2D;
let y: tf.Tensor2D;

/** A 3-16-1 regression net with fixed initial weights, trained for `epochs` full-batch or mini-batch epochs. */
async function fit(optimizer: tf.Optimizer, epochs: number, batchSize: number) {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 16, inputShape: [3], activation: 'tanh', kernelInitializer: tfl.initializers.glorotNormal({ seed: 1 }) }),
      tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotNormal({ seed: 2 }) }),
    ],
  });
  model.compile({ optimizer, loss: 'meanSquaredError' });
  const history = await model.fit(x, y, { epochs, batchSize, verbose: 0, shuffle: false });
  const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
  model.dispose(); // also disposes the optimizer
  return { losses: history.history.loss as number[], weights };
}

describe('model.fit with our optimizers (wasm)', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
    x = tf.randomUniform([64, 3], -1, 1, 'float32', 7);
    // y = sin(2·x₀) + x₁·x₂
    y = tf.tidy(() => {
      const [a, b, c] = tf.split(x, 3, 1);
      return tf.add(tf.sin(tf.mul(a, 2)), tf.mul(b, c)) as tf.Tensor2D;
    });
  });

  it('adam trains and matches tfjs\'s AdamOptimizer in the same fit', async () => {
    const ours = await fit(adam({ learningRate: 0.01 }), 15, 16);
    const theirs = await fit(tf.train.adam(0.01), 15, 16);
    expect(ours.losses[14]).toBeLessThan(0.7 * ours.losses[0]);
    ours.weights.forEach((w, i) => expectClose(w, theirs.weights[i], { rtol: 1e-3, atol: 1e-4 }));
  });

  it('rprop (full batch) trains', async () => {
    const { losses } = await fit(rprop(), 40, 64);
    expect(losses[39]).toBeLessThan(0.5 * losses[0]);
  });

  it('noisySGD trains', async () => {
    const { losses } = await fit(noisySGD({ learningRate: 0.1, eta: 0.01, seed: 5 }), 20, 16);
    expect(losses[19]).toBeLessThan(0.8 * losses[0]);
  });
});
