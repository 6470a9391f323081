import * as tf from '@tensorflow/tfjs-core';
import { batchMatMul, matMulT, selectChannels, type ParamLayer } from '@taylorlens/core';
import { positions } from './linear.js';

/**
 * Per-sample Jacobian tensors of K neurons (output channels `units`) of a layer:
 * `G_α[b] = Σ_pos J_b[:, pos, α] ⊗ patch_b,pos` `[K, B, p_L, fanIn]`, from the layer's
 * Jacobian `J` `[B, p_L, ...outputShape]` and its input patches `[B, positions, fanIn]`.
 */
export function neuronJacobianTensors(p: ParamLayer, J: tf.Tensor, patchRows: tf.Tensor3D, units: tf.Tensor1D): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, pL] = J.shape;
    const pos = positions(p);
    const K = units.shape[0];
    const Jk = selectChannels(tf.reshape(J, [B, pL, pos, p.channels]), units, p.channels); // [B, pL, pos, K]
    const rows = tf.reshape(tf.transpose(Jk, [0, 3, 1, 2]), [B, K * pL, pos]);
    const G = tf.reshape(batchMatMul(rows, patchRows), [B, K, pL, p.fanIn]);
    return tf.transpose(G, [1, 0, 2, 3]) as tf.Tensor4D;
  });
}

/** The whole layer's per-sample Jacobian tensor `[1, B, p_L, fanIn·channels]` (parameter (f, c) = Θ[f, c]). */
export function layerJacobianTensor(p: ParamLayer, J: tf.Tensor, patchRows: tf.Tensor3D): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, pL] = J.shape;
    const pos = positions(p);
    const Jp = tf.reshape(tf.transpose(tf.reshape(J, [B, pL, pos, p.channels]), [0, 2, 1, 3]), [B, pos, pL * p.channels]);
    const G = tf.reshape(matMulT(patchRows, Jp, true), [B, p.fanIn, pL, p.channels]);
    return tf.reshape(tf.transpose(G, [0, 2, 1, 3]), [1, B, pL, p.fanIn * p.channels]) as tf.Tensor4D;
  });
}
