import * as tf from '@tensorflow/tfjs-core';
import type { ModelAnatomy } from './anatomy.js';
import type { BatchCapture } from './capture.js';
import { clampedPush } from './derivatives/push.js';

/**
 * The clamped forward product from one layer (taylor-math.md): push a batch of directions in
 * layer `from`'s pre-activation through the rest of the network with this round's state frozen
 * and no biases. For piecewise-linear nets this is exactly the Jacobian-vector product
 * `J_from · d` per sample.
 *
 * @param directions `[B, K, ...preActivationShape(from)]`: K directions per sample.
 * @returns `[B, K, p_L]` output perturbations.
 */
export function clampedForward(anatomy: ModelAnatomy, capture: BatchCapture, from: number, directions: tf.Tensor): tf.Tensor {
  const [B, K] = directions.shape;
  return tf.tidy(() => clampedPush(anatomy, capture, { from, B, K, inject: (l) => (l === from ? directions : null) }));
}

export type JacobianMode = 'forward' | 'reverse' | 'auto';

/**
 * Cost model: the clamped forward pushes `p_l` directions per sample; reverse mode pushes
 * `p_L` and pays about three passes (forward + backward) for each. Pick the cheaper.
 */
export function jacobianMode(anatomy: ModelAnatomy, l: number): 'forward' | 'reverse' {
  return anatomy.layers[l].units <= 3 * anatomy.outputSize ? 'forward' : 'reverse';
}

/**
 * Per-sample Jacobian `J_l = ∂f/∂a_l`, shape `[B, p_L, p_l]` (`p_l` in the pre-activation's
 * row-major order), by the clamped forward product with one-hot directions or by reverse mode
 * (one backward pass per output unit, batched), whichever is cheaper for the shapes.
 */
export function perSampleJacobian(anatomy: ModelAnatomy, capture: BatchCapture, l: number, mode: JacobianMode = 'auto'): tf.Tensor3D {
  const p = anatomy.layers[l];
  const B = capture.batchSize;
  const pL = anatomy.outputSize;
  const chosen = mode === 'auto' ? jacobianMode(anatomy, l) : mode;
  return tf.tidy(() => {
    if (chosen === 'forward') {
      const eye = tf.reshape(tf.eye(p.units), [1, p.units, ...p.outputShape]);
      const dirs = tf.tile(eye, [B, 1, ...p.outputShape.map(() => 1)]);
      const out = clampedForward(anatomy, capture, l, dirs); // [B, p_l, p_L]
      return tf.transpose(out, [0, 2, 1]) as tf.Tensor3D;
    }
    // Reverse: the clamped network is linear in its input, so the gradient of
    // Σ_k ⟨e_k, clamped(Z_k)⟩ with respect to Z (one copy per output unit) is row k of J.
    const z = tf.zeros([B, pL, ...p.outputShape]);
    const seeds = tf.reshape(tf.eye(pL), [1, pL, pL]);
    const g = tf.grad((zz: tf.Tensor) => tf.sum(tf.mul(clampedForward(anatomy, capture, l, zz), seeds)))(z);
    return tf.reshape(g, [B, pL, p.units]) as tf.Tensor3D;
  });
}
