/**
 * Regression losses on the output itself (no activation absorbed): elementwise in `f − y`, mean
 * over the output units and the batch, as tfjs-layers computes them (its per-sample mean over
 * the last axis, then the mean over the batch). Each is convex in `f` on the whole output space.
 */
import * as tf from '@tensorflow/tfjs-core';
import { lossEpsilon, type TaylorLoss } from './types.js';

/** Targets in the output's layout: tfjs-layers checks this for its losses; a mismatch would broadcast silently. */
export function assertDenseTargets(name: string, f: tf.Tensor, y: tf.Tensor): void {
  if (f.size !== y.size) {
    throw new Error(`loss "${name}": expected targets y with the output's shape [${f.shape}], got [${y.shape}]`);
  }
}

/** An elementwise loss `e(f, y)`: `compute` is the mean of every element, `perSample` the mean of each row. */
function elementwise(spec: {
  name: string;
  element: (f: tf.Tensor, y: tf.Tensor) => tf.Tensor;
  host: (f: number, y: number) => number;
}): TaylorLoss {
  const { name, element, host } = spec;
  return Object.freeze({
    name,
    quadratic: false,
    absorbs: null,
    targets: 'dense' as const,
    compute: (f: tf.Tensor, y: tf.Tensor) => {
      assertDenseTargets(name, f, y);
      return tf.tidy(() => tf.mean(element(f, tf.cast(y, 'float32')))) as tf.Scalar;
    },
    perSample: (f: tf.Tensor2D, y: tf.Tensor) => tf.tidy(() => tf.mean(element(f, tf.reshape(tf.cast(y, 'float32'), f.shape)), 1)) as tf.Tensor1D,
    hostValue: (f: Float32Array, y: Float32Array) => {
      let sum = 0;
      for (let i = 0; i < f.length; i++) sum += host(f[i], y[i]);
      return sum / f.length;
    },
  });
}

/** Mean squared error, mean over the batch and the output units (Keras's `mse`). Quadratic. */
export const meanSquaredError: TaylorLoss = Object.freeze({
  name: 'meanSquaredError',
  compute: (f: tf.Tensor, y: tf.Tensor) => tf.mean(tf.squaredDifference(f, y)) as tf.Scalar,
  quadratic: true,
  absorbs: null,
  hostValue: (f: Float32Array, y: Float32Array) => {
    let sum = 0;
    for (let i = 0; i < f.length; i++) { const d = f[i] - y[i]; sum += d * d; }
    return sum / f.length;
  },
});

/** Mean absolute error `|f − y|` (tfjs-layers' meanAbsoluteError, tf.losses.absoluteDifference). Convex, kink at f = y. */
export const meanAbsoluteError: TaylorLoss = elementwise({
  name: 'meanAbsoluteError',
  element: (f, y) => tf.abs(tf.sub(f, y)),
  host: (f, y) => Math.abs(f - y),
});

/**
 * Mean absolute percentage error `100·|y − f| / clip(|y|, ε, ∞)` (tfjs-layers'). The weights
 * depend on y only, so it is a weighted absolute error: convex in f, kink at f = y.
 */
export const meanAbsolutePercentageError: TaylorLoss = elementwise({
  name: 'meanAbsolutePercentageError',
  element: (f, y) => tf.mul(100, tf.abs(tf.div(tf.sub(y, f), tf.clipByValue(tf.abs(y), lossEpsilon(), Number.MAX_VALUE)))),
  host: (f, y) => (100 * Math.abs(y - f)) / Math.max(Math.abs(y), lossEpsilon()),
});

/**
 * Huber loss with δ = 1 (tf.losses.huberLoss's default): `½d²` for `|d| ≤ 1`, `|d| − ½` beyond,
 * `d = f − y`; mean over every element (its SUM_BY_NONZERO_WEIGHTS reduction without weights).
 * Convex and once differentiable.
 */
export const huberLoss: TaylorLoss = elementwise({
  name: 'huberLoss',
  element: (f, y) => {
    const error = tf.abs(tf.sub(f, y));
    const quadratic = tf.minimum(error, 1);
    return tf.add(tf.mul(0.5, tf.square(quadratic)), tf.sub(error, quadratic));
  },
  host: (f, y) => {
    const a = Math.abs(f - y);
    return a <= 1 ? 0.5 * a * a : a - 0.5;
  },
});

/** `log cosh(f − y)`, as tfjs-layers computes it: `d + softplus(−2d) − log 2`. Convex (second derivative sech² d > 0). */
export const logcosh: TaylorLoss = elementwise({
  name: 'logcosh',
  element: (f, y) => {
    const d = tf.sub(f, y);
    return tf.sub(tf.add(d, tf.softplus(tf.mul(-2, d))), Math.log(2));
  },
  host: (f, y) => {
    const a = Math.abs(f - y);
    return a + Math.log1p(Math.exp(-2 * a)) - Math.LN2;
  },
});

export { elementwise };
