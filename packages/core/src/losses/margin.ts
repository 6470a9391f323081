/**
 * Margin losses on the output itself, as tfjs-layers computes them. tfjs takes the targets as
 * given (hinge and squaredHinge expect y in {−1, 1}; it does not map {0, 1} as Keras does).
 * Each is convex in `f` for any targets: a maximum of functions affine in `f` (squared where
 * non-negative).
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertDenseTargets, elementwise } from './regression.js';
import type { TaylorLoss } from './types.js';

/** `max(0, 1 − y·f)`, mean over the output units and the batch. Kink where y·f = 1. */
export const hinge: TaylorLoss = elementwise({
  name: 'hinge',
  element: (f, y) => tf.relu(tf.sub(1, tf.mul(y, f))),
  host: (f, y) => Math.max(0, 1 - y * f),
});

/** `max(0, 1 − y·f)²`, mean over the output units and the batch. Once differentiable. */
export const squaredHinge: TaylorLoss = elementwise({
  name: 'squaredHinge',
  element: (f, y) => tf.square(tf.relu(tf.sub(1, tf.mul(y, f)))),
  host: (f, y) => Math.max(0, 1 - y * f) ** 2,
});

function categoricalHingeRows(f: tf.Tensor, y: tf.Tensor): tf.Tensor {
  const pos = tf.sum(tf.mul(y, f), -1);
  const neg = tf.max(tf.mul(tf.sub(1, y), f), -1);
  return tf.relu(tf.add(1, tf.sub(neg, pos)));
}

/**
 * `max(0, 1 + max_k (1 − y_k) f_k − Σ_k y_k f_k)` per sample (y one-hot), mean over the batch.
 * Convex: a maximum of affine functions of f minus a linear one, clipped at 0.
 */
export const categoricalHinge: TaylorLoss = Object.freeze({
  name: 'categoricalHinge',
  quadratic: false,
  absorbs: null,
  targets: 'dense' as const,
  compute: (f: tf.Tensor, y: tf.Tensor) => {
    assertDenseTargets('categoricalHinge', f, y);
    return tf.tidy(() => tf.mean(categoricalHingeRows(f, tf.cast(y, 'float32')))) as tf.Scalar;
  },
  perSample: (f: tf.Tensor2D, y: tf.Tensor) => tf.tidy(() => categoricalHingeRows(f, tf.reshape(tf.cast(y, 'float32'), f.shape))) as tf.Tensor1D,
  hostValue: (f: Float32Array, y: Float32Array, outputs: number) => {
    const rows = f.length / outputs;
    let sum = 0;
    for (let r = 0; r < rows; r++) {
      let pos = 0;
      let neg = -Infinity;
      for (let k = r * outputs; k < (r + 1) * outputs; k++) {
        pos += y[k] * f[k];
        neg = Math.max(neg, (1 - y[k]) * f[k]);
      }
      sum += Math.max(0, 1 + neg - pos);
    }
    return sum / rows;
  },
});
