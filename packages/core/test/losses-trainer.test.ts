// Training with a compiled loss other than MSE/cross-entropy: the Trainer on a model compiled with
// sparseCategoricalCrossentropy steps like tfjs's own loss in a hand-written loop.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { resolveLoss, selectBackend, sparseSoftmaxCrossEntropy, Trainer } from '@taylorlens/core';
import { maxAbsDiff, weightsOf } from './helpers/models.js';

beforeAll(async () => { await selectBackend('cpu'); });

function classifier(seed: number, out: 'softmax' | 'sigmoid' = 'softmax', units = 4): tfl.Sequential {
  const init = (s: number) => ({ kernelInitializer: tfl.initializers.glorotUniform({ seed: s }), biasInitializer: tfl.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: s + 100 }) });
  return tfl.sequential({ layers: [
    tfl.layers.dense({ inputShape: [6], units: 5, activation: 'relu', ...init(seed) }),
    tfl.layers.dense({ units, activation: out, ...init(seed + 1) }),
  ] });
}

type Compiled = { lossFunctions: ((y: tf.Tensor, p: tf.Tensor) => tf.Tensor)[]; model?: Compiled };
const tfjsLoss = (m: tfl.LayersModel) => ((m as unknown as Compiled).model ?? (m as unknown as Compiled)).lossFunctions[0];

/** tfjs's own compiled loss in a hand-written loop: the same batches in order, optimizer.minimize. */
async function handWritten(m: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor, epochs: number, batch: number): Promise<void> {
  const lossFn = tfjsLoss(m);
  const opt = (m as unknown as { optimizer: tf.Optimizer }).optimizer;
  const n = x.shape[0];
  for (let e = 0; e < epochs; e++) {
    for (let s = 0; s < n; s += batch) {
      const size = Math.min(batch, n - s);
      const xb = tf.slice(x, s, size);
      const yb = tf.slice(y, s, size);
      opt.minimize(() => tf.mean(lossFn(yb, m.apply(xb, { training: true }) as tf.Tensor)) as tf.Scalar);
      tf.dispose([xb, yb]);
    }
  }
}

describe('the Trainer with tfjs losses as compiled', () => {
  // The Trainer steps on softmax cross-entropy of the logits, tfjs on log(clip(softmax)): the same
  // function rounded differently; over 24 SGD steps the weights part by 1.8e-7 (measured), hence 2e-6.
  it('sparseCategoricalCrossentropy, integer labels [N] and [N, 1]: the weights of a hand-written loop with tfjs\'s own loss, to float32 rounding', async () => {
    const x = tf.randomNormal([48, 6], 0, 1, 'float32', 3);
    const labels = tf.argMax(tf.slice(x, [0, 0], [48, 4]), 1) as tf.Tensor1D; // learnable: the largest of the first four inputs
    for (const y of [labels, tf.reshape(tf.cast(labels, 'float32'), [48, 1])]) {
      const a = classifier(7);
      const b = classifier(7);
      a.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: tf.train.sgd(0.5) });
      b.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: tf.train.sgd(0.5) });
      const trainer = new Trainer(a);
      expect(trainer.loss).toBe(sparseSoftmaxCrossEntropy);
      expect(trainer.anatomy.absorbedOutputActivation).toBe('softmax');
      const losses: number[] = [];
      trainer.events.on('round', (r) => losses.push(r.loss as number));
      await trainer.fit(x, y, { epochs: 3, batchSize: 6, shuffle: false });
      const yf = tf.cast(y, 'float32'); // tfjs's own loss floors its labels: float32 only
      await handWritten(b, x, yf, 3, 6);
      const [wa, wb] = [await weightsOf(a), await weightsOf(b)];
      wa.forEach((w, i) => expect(maxAbsDiff(w, wb[i])).toBeLessThan(2e-6));
      // It learned something, and ℓ_n is the compiled loss of the weights before each step.
      expect(losses.length).toBe(24);
      const mean = (e: number) => losses.slice(8 * e, 8 * e + 8).reduce((p, q) => p + q, 0) / 8;
      expect(mean(2)).toBeLessThan(mean(0));
      const first = classifier(7);
      first.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: 'sgd' });
      const ref = tf.tidy(() => tf.mean(tfjsLoss(first)(tf.slice(yf, 0, 6), first.apply(tf.slice(x, 0, 6)) as tf.Tensor)).dataSync()[0]);
      yf.dispose();
      expect(Math.abs(losses[0] - ref) / ref).toBeLessThan(1e-6);
      [a, b, first].forEach((m) => m.dispose());
      if (y !== labels) y.dispose();
    }
    tf.dispose([x, labels]);
  });

  it('binaryCrossentropy on a sigmoid output (multi-label): the same, through resolveLoss of the compiled model', async () => {
    const x = tf.randomNormal([24, 6], 0, 1, 'float32', 5);
    const y = tf.cast(tf.greater(tf.randomUniform([24, 3], 0, 1, 'float32', 6), 0.5), 'float32');
    const a = classifier(9, 'sigmoid', 3);
    const b = classifier(9, 'sigmoid', 3);
    a.compile({ loss: 'binaryCrossentropy', optimizer: tf.train.sgd(0.5) });
    b.compile({ loss: 'binaryCrossentropy', optimizer: tf.train.sgd(0.5) });
    expect(resolveLoss(a).absorbs).toBe('sigmoid');
    await new Trainer(a).fit(x, y, { epochs: 2, batchSize: 6, shuffle: false });
    await handWritten(b, x, y, 2, 6);
    const [wa, wb] = [await weightsOf(a), await weightsOf(b)];
    // tfjs recovers the logit as log(p/(1−p)) in float32; measured 4.5e-8 apart after 8 steps.
    wa.forEach((w, i) => expect(maxAbsDiff(w, wb[i])).toBeLessThan(1e-6));
    [a, b].forEach((m) => m.dispose());
    tf.dispose([x, y]);
  });
});
