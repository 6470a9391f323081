import * as tf from '@tensorflow/tfjs-core';
import { batchMatMul, depthwisePatches, matMulT, selectChannels, type BatchCapture, type ParamLayer } from '@taylorlens/core';
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

/**
 * `G[b, o, (f, c)] = Σ_pos J[b, o, pos, c] · patch[b, pos, f, c]` `[1, B, p_L, F·C]` for
 * per-channel patches `[B, pos, F, C]`: one product per (channel, sample).
 */
function perChannelTensor(J: tf.Tensor, patchRows: tf.Tensor): tf.Tensor4D {
  const [B, pL, pos, C] = J.shape;
  const F = patchRows.shape[2]!;
  const rows = tf.reshape(tf.transpose(J, [3, 0, 1, 2]), [C * B, pL, pos]);
  const own = tf.reshape(tf.transpose(patchRows, [3, 0, 1, 2]), [C * B, pos, F]);
  const G = tf.reshape(batchMatMul(rows, own), [C, B, pL, F]);
  return tf.reshape(tf.transpose(G, [1, 2, 3, 0]), [1, B, pL, F * C]) as tf.Tensor4D;
}

/** What a SeparableConv2D's layer scope needs besides Θ's patches: its input and pointwise kernel at `W_n`. */
export interface SeparableRound {
  x: tf.Tensor;
  pointwise: tf.Tensor;
}

/** A SeparableConv2D's round from a capture (its node's kept input and weights), first `s` samples. */
export function separableRound(capture: BatchCapture, p: ParamLayer, s?: number): SeparableRound {
  const r = capture.nodeRounds.get(p.node);
  if (!r) throw new Error(`layer "${p.name}" (SeparableConv2D): its input was not captured (require({ preActivations: true }))`);
  const x = r.inputs[0];
  return { x: s === undefined || s === x.shape[0] ? x : tf.slice(x, 0, s), pointwise: r.weights.pointwise_kernel };
}

/**
 * The whole layer's per-sample Jacobian tensor `[1, B, p_L, P]` (parameter (f, c) = Θ[f, c]; a
 * SeparableConv2D then appends its depthwise kernel's, from `separable`: the cotangent pulled back
 * through the pointwise kernel at `W_n` onto the depthwise output, times the depthwise patches).
 */
export function layerJacobianTensor(p: ParamLayer, J: tf.Tensor, patchRows: tf.Tensor3D, separable?: SeparableRound): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, pL] = J.shape;
    const pos = positions(p);
    const C = p.channels;
    const J4 = tf.reshape(J, [B, pL, pos, C]);
    if (p.perChannel) return perChannelTensor(J4, patchRows);
    const Jp = tf.reshape(tf.transpose(J4, [0, 2, 1, 3]), [B, pos, pL * C]);
    const G = tf.reshape(tf.transpose(tf.reshape(matMulT(patchRows, Jp, true), [B, p.fanIn, pL, C]), [0, 2, 1, 3]), [1, B, pL, p.fanIn * C]) as tf.Tensor4D;
    if (!p.depthwise) return G;
    if (!separable) throw new Error(`layer "${p.name}" (SeparableConv2D): its layer scope needs the layer input and pointwise kernel of the round`);
    const cm = p.kernelFanIn;
    const back = tf.reshape(tf.matMul(tf.reshape(J4, [-1, C]), tf.reshape(separable.pointwise, [cm, C]), false, true), [B, pL, pos, cm]);
    return tf.concat([G, perChannelTensor(back, depthwisePatches(p, separable.x))], 3) as tf.Tensor4D;
  });
}
