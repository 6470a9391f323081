import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Trainer, selectBackend } from '@taylorlens/core';
import { paperConvnet, randomData, weightsOf } from './helpers/models.js';

async function oneStep(backend: string): Promise<Float32Array[]> {
  await selectBackend(backend);
  const model = paperConvnet(3, { filters: 8, hidden: 16 });
  model.compile({ loss: 'categoricalCrossentropy', optimizer: tf.train.sgd(0.1) });
  const { x, y } = randomData(16, [28, 28, 1], 10, 4, true);
  await new Trainer(model).fit(x, y, { epochs: 1, batchSize: 16, shuffle: false });
  tf.dispose([x, y]);
  return weightsOf(model);
}

describe("the paper's convnet at reduced width", () => {
  it('one step on wasm matches cpu within float32 tolerance', async () => {
    const cpu = await oneStep('cpu');
    const wasm = await oneStep('wasm');
    cpu.forEach((w, i) => {
      let num = 0, den = 0;
      for (let j = 0; j < w.length; j++) { num = Math.max(num, Math.abs(w[j] - wasm[i][j])); den = Math.max(den, Math.abs(w[j])); }
      expect(num / den).toBeLessThan(1e-4);
    });
  });

  it('trains on wasm: the loss falls on a learnable task', async () => {
    await selectBackend('wasm');
    const model = paperConvnet(5, { filters: 8, hidden: 32 });
    model.compile({ loss: 'categoricalCrossentropy', optimizer: tf.train.adam(0.003) });
    // Class = which quadrant is bright: learnable by a convnet in a few epochs.
    const n = 64;
    const labels = Array.from({ length: n }, (_, i) => i % 4);
    const x = tf.tidy(() => tf.stack(labels.map((c) => {
      const img = tf.buffer([28, 28, 1]);
      for (let i = 0; i < 14; i++) for (let j = 0; j < 14; j++) img.set(1, i + 14 * (c >> 1), j + 14 * (c & 1), 0);
      return tf.add(img.toTensor(), tf.randomNormal([28, 28, 1], 0, 0.1, 'float32', c));
    })));
    const y = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 10), 'float32');
    const t = new Trainer(model);
    const s = await t.fit(x, y, { epochs: 6, batchSize: 16, seed: 1 });
    expect(s.status).toBe('completed');
    expect(s.epochLoss[s.epochLoss.length - 1]).toBeLessThan(s.epochLoss[0] * 0.5);
    tf.dispose([x, y]);
  });
});
