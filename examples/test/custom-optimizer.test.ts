// The example Lion optimizer: textbook equations (float64), model.fit, config round-trip, options.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@taylorlens/core';
import { OptionsError } from '@taylorlens/plugin-optimizers';
import { lion } from '../custom-optimizer/optimizer.js';

describe('example Lion optimizer', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('follows c = β₁m + (1−β₁)g, w ← w − η(sign(c) + λw), m ← β₂m + (1−β₂)g', () => {
    const [lr, b1, b2, wd] = [0.1, 0.9, 0.5, 0.05]; // a short momentum memory so it matters within 4 steps
    const grads = [[1, -1, 2], [-0.02, -1, 0.5], [-0.9, 0.03, 0.1], [0.4, 0.2, -0.3]];
    const w = tf.variable(tf.tensor1d([1, -2, 0.5]), true, 'lion_textbook');
    const optimizer = lion({ learningRate: lr, beta2: b2, weightDecay: wd });
    const ref = [1, -2, 0.5];
    const m = [0, 0, 0];
    let momentumWins = 0; // steps where sign(c) ≠ sign(g): plain signSGD would differ there
    for (const g of grads) {
      for (let i = 0; i < 3; i++) {
        const c = b1 * m[i] + (1 - b1) * g[i];
        if (Math.sign(c) !== Math.sign(g[i])) momentumWins++;
        ref[i] -= lr * (Math.sign(c) + wd * ref[i]);
        m[i] = b2 * m[i] + (1 - b2) * g[i];
      }
      const gt = tf.tensor1d(g);
      optimizer.applyGradients({ [w.name]: gt });
      gt.dispose();
      Array.from(w.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(ref[i], 6));
    }
    expect(momentumWins).toBeGreaterThan(0);
    optimizer.dispose();
    w.dispose();
  });

  it('trains a model with model.fit and reports its step', async () => {
    const x = tf.randomUniform([64, 2], -1, 1, 'float32', 1);
    const y = tf.tidy(() => tf.sum(tf.square(x), 1, true));
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 16, inputShape: [2], activation: 'tanh' }), tfl.layers.dense({ units: 1 })] });
    const optimizer = lion({ learningRate: 3e-3 });
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const history = await model.fit(x, y, { epochs: 20, batchSize: 16, verbose: 0, shuffle: false });
    const losses = history.history.loss as number[];
    expect(losses[19]).toBeLessThan(0.6 * losses[0]);

    const { value, grads } = tf.variableGrads(() => tf.losses.meanSquaredError(y, model.predict(x) as tf.Tensor) as tf.Scalar);
    const report = optimizer.applyGradientsReported(grads, { round: 0, loss: value.dataSync()[0] });
    expect(report.learningRate).toBe(3e-3);
    for (const name of Object.keys(grads)) {
      // Lion's step is ±η per weight: |direction| = stepSize = η
      for (const d of report.direction![name].dataSync()) expect(Math.abs(d)).toBeCloseTo(3e-3, 7);
      for (const s of report.stepSize![name].dataSync()) expect(s).toBeCloseTo(3e-3, 9);
    }
    tf.dispose([x, y, value, grads, report.direction!, report.stepSize!] as tf.TensorContainer);
    model.dispose();
  });

  it('round-trips its config through the tfjs registry and validates options', () => {
    const optimizer = lion({ beta1: 0.95 });
    const [cls, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap['example.Lion'];
    const copy = fromConfig(cls, optimizer.getConfig()) as typeof optimizer;
    expect(copy.getConfig()).toEqual({ learningRate: 1e-4, beta1: 0.95, beta2: 0.99, weightDecay: 0 });
    expect(() => lion({ beta2: 1 })).toThrow(OptionsError);
    expect(() => lion({ beta2: 1 })).toThrow('/beta2 must be < 1');
  });
});
