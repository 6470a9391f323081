// tf.memory().numTensors stays flat over many steps: plain and reported steps, inside and outside
// a caller's tidy, through getWeights/setWeights, and nothing is left after dispose.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@taylorlens/core';
import { namedOptimizers, type NamedOptimizer, type TaylorOptimizer } from '@taylorlens/plugin-optimizers';

const names = Object.keys(namedOptimizers) as NamedOptimizer[];

describe('tensor count stays flat', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it.each(names)('%s', async (name) => {
    const start = tf.memory().numTensors;
    const kernel = tf.tidy(() => tf.variable(tf.randomNormal([6, 4], 0, 1, 'float32', 1), true, `mem_${name}/kernel`));
    const bias = tf.tidy(() => tf.variable(tf.zeros([4]), true, `mem_${name}/bias`));
    const x = tf.randomNormal([8, 6], 0, 1, 'float32', 2);
    const loss = () => tf.mean(tf.square(tf.tanh(tf.add(tf.matMul(x, kernel), bias)))) as tf.Scalar;
    const optimizer = namedOptimizers[name]() as TaylorOptimizer<object>;

    const plainStep = () => optimizer.minimize(loss);
    const reportedStep = () => {
      const { value, grads } = tf.variableGrads(loss);
      const report = optimizer.applyGradientsReported(grads, { round: 0, loss: value.dataSync()[0] });
      tf.dispose([value, grads, report.direction ?? {}, report.stepSize ?? {}] as tf.TensorContainer);
    };
    plainStep(); // the first step creates the state and cached scalars
    reportedStep();
    const settled = tf.memory().numTensors;
    for (let i = 0; i < 25; i++) plainStep();
    expect(tf.memory().numTensors).toBe(settled);
    for (let i = 0; i < 25; i++) reportedStep();
    expect(tf.memory().numTensors).toBe(settled);
    // Inside a caller's tidy (as model.fit calls it): the state must survive it, and nothing leaks.
    for (let i = 0; i < 5; i++) tf.tidy(() => { optimizer.minimize(loss); });
    expect(tf.memory().numTensors).toBe(settled);
    plainStep();
    expect(Array.from(kernel.dataSync()).every(Number.isFinite)).toBe(true);

    const weights = await optimizer.getWeights();
    await optimizer.setWeights(weights);
    tf.dispose(weights.map((w) => w.tensor));
    for (let i = 0; i < 5; i++) plainStep();
    expect(tf.memory().numTensors).toBe(settled);

    optimizer.dispose();
    tf.dispose([kernel, bias, x]);
    expect(tf.memory().numTensors).toBe(start);
  });
});
