import * as tf from '@tensorflow/tfjs-core';
import { batchMatMul, matMulT, selectChannels, type ParamLayer } from '@taylorlens/core';
import { positions } from './linear.js';

/**
 * Per-sample Jacobian tensors of K neurons (for per-channel kinds, patches `[B, positions, fanIn,
 * channels]`: each neuron contracts with its own) (output channels `units`) of a layer:
 * `G_α[b] = Σ_pos J_b[:, pos, α] ⊗ patch_b,pos` `[K, B, p_L, fanIn]`, from the layer's
 * Jacobian `J` `[B, p_L, ...outputShape]` and its input patches `[B, positions, fanIn]`.
 */
export function neuronJacobianTensors(p: ParamLayer, J: tf.Tensor, patchRows: tf.Tensor3D, units: tf.Tensor1D): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, pL] = J.shape;
    const pos = positions(p);
    const K = units.shape[0];
    const Jk = selectChannels(tf.reshape(J, [B, pL, pos, p.channels]), units, p.channels); // [B, pL, pos, K]
    if (p.perChannel) {
      // Each neuron's own patches [B, pos, fanIn, K]: one product per (neuron, sample).
      const rows = tf.reshape(tf.transpose(Jk, [3, 0, 1, 2]), [K * B, pL, pos]);
      const own = tf.reshape(tf.transpose(selectChannels(patchRows, units, p.channels), [3, 0, 1, 2]), [K * B, pos, p.fanIn]);
      return tf.reshape(batchMatMul(rows, own), [K, B, pL, p.fanIn]) as tf.Tensor4D;
    }
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
    const C = p.channels;
    if (p.perChannel) {
      // G[b, o, (f, c)] = Σ_pos J[b, o, pos, c] · patch[b, pos, f, c]: one product per (channel, sample).
      const rows = tf.reshape(tf.transpose(tf.reshape(J, [B, pL, pos, C]), [3, 0, 1, 2]), [C * B, pL, pos]);
      const own = tf.reshape(tf.transpose(patchRows, [3, 0, 1, 2]), [C * B, pos, p.fanIn]);
      const G = tf.reshape(batchMatMul(rows, own), [C, B, pL, p.fanIn]);
      return tf.reshape(tf.transpose(G, [1, 2, 3, 0]), [1, B, pL, p.fanIn * C]) as tf.Tensor4D;
    }
    const Jp = tf.reshape(tf.transpose(tf.reshape(J, [B, pL, pos, p.channels]), [0, 2, 1, 3]), [B, pos, pL * p.channels]);
    const G = tf.reshape(matMulT(patchRows, Jp, true), [B, p.fanIn, pL, p.channels]);
    return tf.reshape(tf.transpose(G, [0, 2, 1, 3]), [1, B, pL, p.fanIn * p.channels]) as tf.Tensor4D;
  });
}
