import * as tf from '@tensorflow/tfjs-core';
import type { ParamLayer } from '@taylorlens/core';
import { linearWith, positions, splitTheta } from '../jacobian/linear.js';

/** What a stored round of a layer or neuron scope holds to evaluate its Taylor outputs. */
export interface LocalRoundTensors {
  /** Layer input `[S, ...inputShape]` (factored). */
  x?: tf.Tensor;
  /** Jacobian of the scope's channels `[S, p_L, positions, C']` (factored). */
  J?: tf.Tensor;
  /** Jacobian tensors `[S, K', p_L, P]` (direct). */
  G?: tf.Tensor;
}

/**
 * The linear term of the Taylor approximation, `M_b u` `[S, K', p_L]`, for parameter
 * displacements U `[K', P]` (one row per neuron, or one row for the layer):
 *  - factored: the displacement's pre-activation change `linear(x; U)` at every position,
 *    contracted with the Jacobian there — for a conv neuron `Σ_pos J[:, pos] (patch_pos · u)`,
 *    which is `G_α u` without forming G;
 *  - direct: `G u`.
 */
export function taylorOutputs(p: ParamLayer, kind: 'layer' | 'neurons', t: LocalRoundTensors, U: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    if (t.G) {
      const [S, Kp, pL, P] = t.G.shape;
      return tf.reshape(tf.sum(tf.mul(t.G, tf.reshape(U, [1, Kp, 1, P])), 3), [S, Kp, pL]) as tf.Tensor3D;
    }
    const x = t.x!;
    const J = t.J!;
    const [S, pL] = J.shape;
    const pos = positions(p);
    if (kind === 'neurons') {
      const K = U.shape[0];
      const { kernel, bias } = splitTheta(p, tf.transpose(U));
      const a = tf.reshape(linearWith(p, x, kernel, bias), [S, 1, pos, K]);
      return tf.transpose(tf.sum(tf.mul(J, a), 2), [0, 2, 1]) as tf.Tensor3D;
    }
    const { kernel, bias } = splitTheta(p, tf.reshape(U, [p.fanIn, p.channels]));
    const a = tf.reshape(linearWith(p, x, kernel, bias), [S, pos * p.channels, 1]);
    return tf.reshape(tf.matMul(tf.reshape(J, [S, pL, pos * p.channels]), a), [S, 1, pL]) as tf.Tensor3D;
  });
}
