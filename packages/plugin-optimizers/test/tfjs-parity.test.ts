// Where tfjs has the optimizer, ours and tfjs's reach the same weights after 20 steps on a small
// tanh network (real, changing gradients), within float32 tolerance.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { selectBackend } from '@taylorlens/core';
import { adagrad, adam, momentum, nesterov, rmsprop, sgd } from '@taylorlens/plugin-optimizers';
import { expectClose } from './helpers.js';

const STEPS = 20;
let x: tf.Tensor2D;
let y: tf.Tensor2D;
let initial: tf.Tensor[];
let runs = 0;

/** Weights of a 5-8-1 tanh network after `STEPS` steps of `optimizer` on a fixed regression batch. */
function train(optimizer: tf.Optimizer): Float32Array[] {
  const tag = `parity${++runs}`;
  const [w1, b1, w2, b2] = initial.map((t, i) => tf.variable(t, true, `${tag}/p${i}`));
  const loss = () => tf.tidy(() => {
    const hidden = tf.tanh(tf.add(tf.matMul(x, w1), b1));
    return tf.mean(tf.square(tf.sub(tf.add(tf.matMul(hidden, w2), b2), y))) as tf.Scalar;
  });
  for (let i = 0; i < STEPS; i++) optimizer.minimize(loss);
  const out = [w1, b1, w2, b2].map((v) => v.dataSync() as Float32Array);
  tf.dispose([w1, b1, w2, b2]);
  optimizer.dispose();
  return out;
}

function expectSameWeights(ours: tf.Optimizer, theirs: tf.Optimizer, tolerance = { rtol: 1e-4, atol: 1e-5 }): void {
  const a = train(ours);
  const b = train(theirs);
  a.forEach((values, i) => expectClose(values, b[i], tolerance));
}

describe('same weights as tfjs after 20 steps', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
    x = tf.randomNormal([16, 5], 0, 1, 'float32', 1);
    y = tf.randomNormal([16, 1], 0, 1, 'float32', 2);
    initial = [
      tf.randomNormal([5, 8], 0, 0.5, 'float32', 3), tf.randomNormal([8], 0, 0.1, 'float32', 4),
      tf.randomNormal([8, 1], 0, 0.5, 'float32', 5), tf.randomNormal([1], 0, 0.1, 'float32', 6),
    ];
  });
  afterAll(() => tf.dispose([x, y, ...initial]));

  it('sgd ≡ tf.train.sgd', () => expectSameWeights(sgd({ learningRate: 0.1 }), tf.train.sgd(0.1)));
  it('momentum ≡ tf.train.momentum', () => expectSameWeights(momentum({ learningRate: 0.05, momentum: 0.9 }), tf.train.momentum(0.05, 0.9)));
  it('nesterov ≡ tf.train.momentum(useNesterov)', () =>
    expectSameWeights(nesterov({ learningRate: 0.05, momentum: 0.9 }), tf.train.momentum(0.05, 0.9, true)));
  it('adagrad ≡ tf.train.adagrad', () => expectSameWeights(adagrad({ learningRate: 0.1 }), tf.train.adagrad(0.1)));
  it('rmsprop ≡ tf.train.rmsprop (defaults)', () => expectSameWeights(rmsprop({ learningRate: 0.01 }), tf.train.rmsprop(0.01)));
  it('rmsprop with momentum ≡ tf.train.rmsprop', () =>
    expectSameWeights(rmsprop({ learningRate: 0.01, decay: 0.8, momentum: 0.5 }), tf.train.rmsprop(0.01, 0.8, 0.5)));
  it('adam ≡ tf.train.adam (defaults)', () => expectSameWeights(adam({ learningRate: 0.01 }), tf.train.adam(0.01)));
  it('adam ≡ tf.train.adam (other betas)', () =>
    expectSameWeights(adam({ learningRate: 0.02, beta1: 0.5, beta2: 0.9 }), tf.train.adam(0.02, 0.5, 0.9)));
});
