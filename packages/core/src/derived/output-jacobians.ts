import * as tf from '@tensorflow/tfjs-core';
import type { ModelAnatomy } from '../anatomy.js';
import { clampedPush, type ClampFactors } from '../derivatives/push.js';

/**
 * Per-sample Jacobians `J_l = ∂f/∂a_l` `[B, p_L, ...outputShape_l]` for several layers at once,
 * by reverse mode through the clamped network: one backward pass carries the p_L output seeds
 * past every requested layer (cheap where the output is narrow, as for a 10-class convnet).
 */
export function outputJacobians(anatomy: ModelAnatomy, factors: ClampFactors, layers: readonly number[], B: number,
  kernel?: (l: number) => tf.Tensor): Map<number, tf.Tensor> {
  const pL = anatomy.outputSize;
  const sorted = [...new Set(layers)].sort((a, b) => a - b);
  const grads = tf.tidy(() => {
    const probes = sorted.map((l) => tf.zeros([B, pL, ...anatomy.layers[l].outputShape]));
    const seeds = tf.reshape(tf.eye(pL), [1, pL, pL]);
    const f = (...zs: tf.Tensor[]) => {
      const out = clampedPush(anatomy, factors, {
        from: sorted[0], B, K: pL, kernel,
        inject: (l) => { const i = sorted.indexOf(l); return i >= 0 ? zs[i] : null; },
      });
      return tf.sum(tf.mul(out, seeds)) as tf.Scalar;
    };
    return tf.grads(f)(probes);
  });
  return new Map(sorted.map((l, i) => [l, grads[i]]));
}
