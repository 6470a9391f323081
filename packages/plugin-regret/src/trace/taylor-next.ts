import * as tf from '@tensorflow/tfjs-core';
import { separableDepthwiseMap, type BatchCapture, type ModelAnatomy, type TaylorLoss } from '@taylorlens/core';
import { clampedPush } from '../jacobian/clamped-push.js';
import { linearWith } from '../jacobian/linear.js';
import { separableRound } from '../jacobian/jacobian-tensor.js';
import { perSampleLoss } from '../convex/per-sample-loss.js';
import type { ScopeDescription } from '../scopes/scope.js';

/**
 * `τ^n_S(W_{n+1})`: the round-n Taylor loss of a scope with only the scope's parameters moved to
 * their new values — one clamped pass from the scope's layer (every layer for the network) with
 * the weight change injected as the pre-activation change `ΔW x̃_b + Δb`, the later layers at
 * `W_n`. Returns one value per problem (a neuron scope: per neuron).
 *
 * @param before the variables at `W_n` (anatomy.variables order); `after` at `W_{n+1}`.
 */
export function taylorAtNext(anatomy: ModelAnatomy, capture: BatchCapture, loss: TaylorLoss, d: ScopeDescription,
  before: readonly tf.Tensor[], after: readonly tf.Tensor[]): tf.Tensor1D {
  return tf.tidy(() => {
    const B = capture.batchSize;
    const idx = (v: tf.Variable | undefined) => (v ? anatomy.variables.indexOf(v) : -1);
    const kernelN = (l: number) => before[idx(anatomy.layers[l].kernel)];
    // `withDepthwise`: a SeparableConv2D's depthwise change too (layer and network scopes; its
    // neurons hold it at W_n), first order: through the pointwise kernel at W_n.
    const change = (l: number, withDepthwise = true) => {
      const p = anatomy.layers[l];
      const k = idx(p.kernel);
      const b = idx(p.bias);
      const a = linearWith(p, capture.layers[l].input!, tf.sub(after[k], before[k]), b >= 0 ? tf.sub(after[b], before[b]) : null);
      if (!p.depthwise || !withDepthwise) return a;
      const dw = idx(p.depthwise);
      const r = separableRound(capture, p);
      return tf.add(a, separableDepthwiseMap(p.conv!, r.x, tf.sub(after[dw], before[dw]), before[k]));
    };
    const f = capture.output as tf.Tensor2D;
    const y = capture.y as tf.Tensor2D;
    if (d.kind === 'neurons') {
      const l = d.layerIndex!;
      const p = anatomy.layers[l];
      const K = d.units!.length;
      // Channels are the trailing entries of the row-major pre-activation (the last axis, or PReLU's α's axes).
      const pos = p.units / p.channels;
      const onehot = tf.reshape(tf.oneHot(tf.tensor1d(d.units!, 'int32'), p.channels), [1, K, 1, p.channels]);
      const dirs = tf.reshape(tf.mul(tf.reshape(change(l, false), [B, 1, pos, p.channels]), onehot), [B, K, ...p.outputShape]); // neuron k moves alone
      const z = clampedPush(anatomy, capture, { from: l, B, K, kernel: kernelN, inject: (m) => (m === l ? dirs : null) });
      const T = tf.add(tf.expandDims(f, 1), z);
      const yRest = y.shape.slice(1); // [pL], or [] / [1] for class indices
      const yy = tf.reshape<tf.Rank>(tf.tile(tf.expandDims(y, 1), [1, K, ...yRest.map(() => 1)]), [B * K, ...yRest] as number[]) as tf.Tensor2D;
      const per = perSampleLoss(loss)(tf.reshape(T, [B * K, -1]) as tf.Tensor2D, yy);
      return tf.mean(tf.reshape(per, [B, K]), 0) as tf.Tensor1D;
    }
    const from = d.kind === 'network' ? 0 : d.layerIndex!;
    const z = clampedPush(anatomy, capture, {
      from, B, K: 1, kernel: kernelN,
      inject: (m) => (d.kind === 'network' || m === from ? tf.expandDims(change(m), 1) : null),
    });
    return tf.reshape(loss.compute(tf.add(f, tf.reshape(z, [B, -1])), y), [1]) as tf.Tensor1D;
  });
}
