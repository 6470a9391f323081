import * as tf from '@tensorflow/tfjs-core';
import type { PushShape } from './types.js';

/** Apply a per-sample map to `[B, K, ...]` directions as one batch of `B·K` samples. */
export function perDirection(d: tf.Tensor, s: PushShape, inputShape: number[], fn: (flat: tf.Tensor) => tf.Tensor): tf.Tensor {
  const out = fn(tf.reshape(d, [s.B * s.K, ...inputShape]));
  return tf.reshape(out, [s.B, s.K, ...out.shape.slice(1)]);
}

/** Multiply `[B, K, ...]` directions by a per-sample `[B, ...]` factor shared by the K directions. */
export function timesPerSample(d: tf.Tensor, factor: tf.Tensor): tf.Tensor {
  return tf.mul(d, tf.expandDims(factor, 1));
}

/** The one input's direction of a single-input layer. */
export function only(d: (tf.Tensor | null)[]): tf.Tensor | null {
  return d[0] ?? null;
}

/** `∂ Σ layer(x) / ∂x`: for an elementwise map, its derivative; for a max, the cells training routes to. */
export function gradOfSum(apply: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(apply(t)))(x));
}

/** A per-sample axis (layer config, may be negative) as an axis of `[B, K, ...]` directions. */
export function directionAxis(axis: number, sampleRank: number): number {
  return (axis < 0 ? axis + sampleRank + 1 : axis) + 1;
}

/**
 * A dilated filter written out with its zeros (`[kh, kw, a, b]` → `[(kh−1)·dh+1, (kw−1)·dw+1, a, b]`):
 * the same convolution without dilation. tfjs has no gradient for dilated convolutions, so a
 * push that convolves with dilation could not run in reverse mode.
 */
export function undilated(kernel: tf.Tensor, rates: [number, number]): tf.Tensor4D {
  const [dh, dw] = rates;
  let t = kernel as tf.Tensor4D;
  const [kh, kw, a, b] = t.shape;
  if (dh > 1) {
    const spread = tf.pad(tf.reshape(t, [kh, 1, kw * a * b]), [[0, 0], [0, dh - 1], [0, 0]]);
    t = tf.slice(tf.reshape(spread, [kh * dh, kw, a, b]), 0, (kh - 1) * dh + 1) as tf.Tensor4D;
  }
  if (dw > 1) {
    const H = t.shape[0];
    const spread = tf.pad(tf.reshape(t, [H * kw, 1, a * b]), [[0, 0], [0, dw - 1], [0, 0]]);
    t = tf.slice(tf.reshape(spread, [H, kw * dw, a, b]), [0, 0, 0, 0], [H, (kw - 1) * dw + 1, a, b]) as tf.Tensor4D;
  }
  return t;
}

/**
 * A depthwise convolution whose gradient exists on the active backend: tfjs-backend-wasm 4.22 has
 * no DepthwiseConv2dNativeBackpropInput, so there it runs as one conv2d with the block-diagonal
 * filter `[kh, kw, C, C·M]` (exact: the added terms are zeros). Dilation is written into the
 * filter (see `undilated`).
 */
export function depthwiseConv(x: tf.Tensor4D, kernel: tf.Tensor, strides: [number, number], padding: 'same' | 'valid', rates: [number, number]): tf.Tensor4D {
  const k = undilated(kernel, rates);
  if (tf.getKernel('DepthwiseConv2dNativeBackpropInput', tf.getBackend())) return tf.depthwiseConv2d(x, k, strides, padding);
  const [kh, kw, C, M] = k.shape;
  const eye = tf.reshape(tf.eye(C), [1, 1, C, C, 1]);
  const full = tf.reshape(tf.mul(tf.reshape(k, [kh, kw, C, 1, M]), eye), [kh, kw, C, C * M]) as tf.Tensor4D;
  return tf.conv2d(x, full, strides, padding);
}
