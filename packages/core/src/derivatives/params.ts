/**
 * The parameter structure of the layers whose parameters the Taylor scopes move. Every one is
 * linear in its parameters Θ `[fanIn, channels]` (kernel rows, then a bias row) with the rest of
 * the round frozen: its pre-activation is `a[b, pos, c] = Σ_i x̃[b, pos, i, c] · Θ[i, c]` for
 * "patches" x̃ built from its input and the round's state.
 *
 *  - Dense, Conv2D, Conv1D: patches shared by the channels (`x̃[b, pos, i]`: the input window,
 *    in kernel order), as in taylor-math.md;
 *  - Embedding: shared one-hot patches over the vocabulary (Θ is the embedding matrix `[V, D]`; its
 *    integer input is never perturbed);
 *  - Conv2DTranspose: shared patches too (the inputs that reach an output position through each
 *    kernel tap, rows in (kh, kw, c_in) order); its kernel `[kh, kw, filters, c_in]` has the
 *    channels on its third axis, so Θ is the kernel with its last two axes swapped (`kernelRows`);
 *  - DepthwiseConv2D: per-channel patches (channel c·M + m sees only input channel c's window,
 *    fan-in kh·kw);
 *  - SeparableConv2D: `a = pw(dw(x; D); P) + b` is bilinear in the depthwise kernel D and the
 *    pointwise kernel P. Θ is P's rows (c_in·M) and the bias, with shared patches the depthwise
 *    output `dw(x; D_n)` (its scope input): a neuron is one output channel's pointwise column and
 *    bias, D held at `W_n` — D feeds every output channel, so moving it in a neuron scope would
 *    move all the other channels too. The layer scope adds D as a second group
 *    (`ParamLayer.depthwise`, after vec(Θ)): the first-order Taylor model in (D, P, b) at `W_n` is
 *    `pw(dw(x; D_n); P) + b + pw(dw(x; D − D_n); P_n)` (no cross term), whose D part has the
 *    depthwise layer's per-channel patches (`depthwisePatches`) and the cotangent pulled back
 *    through P_n (`separableDepthwiseMap`);
 *  - BatchNormalization: per-channel patches `[x̂, 1]` with x̂ the input normalised by the round's
 *    batch statistics, held fixed (so γ and β of channel c are neuron c's two parameters);
 *  - LayerNormalization: the same with x̂ normalised per sample over γ's axes (which must trail);
 *  - PReLU: `a = relu(x) + α ⊙ min(x, 0)`, affine in α: per-channel patches `min(x, 0)` (x ≤ 0
 *    takes the α piece, as tfjs's gradient), one parameter per entry of α. `paramMap` is the part
 *    linear in the parameters, without the offset relu(x).
 *
 * The pre-activation of every kind but PReLU is `paramMap` at the layer's own weights.
 *
 * `scopeInput` is what the patches and the parameter map read (the layer input; x̂ for
 * BatchNormalization), kept on `capture.layers[l].input`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ConvGeometry, ParamLayer } from '../anatomy.js';
import type { LayerDerivatives, NodeState } from './types.js';
import { depthwiseConv, perDirection, undilated } from './util.js';

/** `x · K` over the last axis of `x` (a Dense layer on inputs of any rank). */
export function denseMap(x: tf.Tensor, kernel: tf.Tensor): tf.Tensor {
  if (x.rank === 2) return tf.matMul(x as tf.Tensor2D, kernel as tf.Tensor2D);
  const lead = x.shape.slice(0, -1);
  const out = tf.matMul(tf.reshape(x, [-1, x.shape[x.rank - 1]]) as tf.Tensor2D, kernel as tf.Tensor2D);
  return tf.reshape(out, [...lead, kernel.shape[1]!]);
}

/**
 * A scoped BatchNormalization's round state: `1/√(σ²_B + ε)` per channel from the batch's own
 * statistics, held fixed (see normalization.ts). Its push (for callers outside `clampedPush`)
 * multiplies by it and by γ at `W_n`.
 */
export const scopedBatchNormalization: LayerDerivatives = {
  kind: 'batchNormalization (γ, β scoped; batch statistics frozen)',
  freeze(layer, r) {
    const x = r.inputs[0];
    const eps = (layer.getConfig() as { epsilon: number }).epsilon;
    const invStd = tf.tidy(() => tf.reshape(tf.rsqrt(tf.add(tf.moments(x, Array.from({ length: x.rank - 1 }, (_, i) => i)).variance, eps)), [-1]));
    return { sample: {}, shared: { invStd, gamma: r.weights.gamma } };
  },
  push(_layer, state, d) {
    return d[0] ? tf.mul(d[0], tf.mul(state!.shared!.invStd, state!.shared!.gamma)) : null;
  },
};

/** The channel axis of a per-sample-batched tensor as a broadcastable shape `[1, …, 1, C]`. */
function perChannel(t: tf.Tensor, rank: number): tf.Tensor {
  return tf.reshape(t, [...Array.from({ length: rank - 1 }, () => 1), -1]);
}

/** A Conv1D input `[B, W, C]` as a one-row image `[B, 1, W, C]`, and its kernel `[k, cin, cout]` as `[1, k, cin, cout]`. */
const asImage = (x: tf.Tensor) => tf.expandDims(x, 1) as tf.Tensor4D;

/**
 * What the layer's patches and parameter map read: its input, or for BatchNormalization the
 * input normalised with the batch's own statistics (the round's, frozen).
 */
export function scopeInput(p: ParamLayer, x: tf.Tensor): tf.Tensor {
  // SeparableConv2D: the depthwise output with D as it is now (the capture runs at W_n).
  if (p.kind === 'separableConv2d') return depthwiseConv(x as tf.Tensor4D, p.depthwise!, p.conv!.strides, p.conv!.padding, p.conv!.dilation);
  if (p.kind !== 'batchNormalization' && p.kind !== 'layerNormalization') return x;
  return tf.tidy(() => {
    // BatchNormalization: over the batch and positions; LayerNormalization: per sample, over γ's (trailing) axes.
    const trailing = p.kind === 'layerNormalization' ? (p.kernel.shape as number[]).length : 1;
    const axes = p.kind === 'batchNormalization' ? Array.from({ length: x.rank - 1 }, (_, i) => i) : Array.from({ length: trailing }, (_, i) => x.rank - trailing + i);
    const { mean, variance } = tf.moments(x, axes, true);
    return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, p.epsilon!)));
  });
}

/**
 * The pre-activation with parameters (kernel, bias) from a scope input `xs` (linear in the
 * parameters; bias null: none). Dense and Conv2D are computed exactly as before this module.
 */
export function paramMap(p: ParamLayer, xs: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
  let a: tf.Tensor;
  const c = p.conv;
  switch (p.kind) {
    case 'dense': a = denseMap(xs, kernel); break;
    case 'conv2d': a = tf.conv2d(xs as tf.Tensor4D, kernel as tf.Tensor4D, c!.strides, c!.padding, 'NHWC', c!.dilation); break;
    case 'conv1d': a = tf.squeeze(convNoGradIssue(asImage(xs), tf.expandDims(kernel, 0), c!), [1]); break;
    case 'depthwiseConv2d': a = depthwiseConv(xs as tf.Tensor4D, kernel, c!.strides, c!.padding, c!.dilation); break;
    case 'separableConv2d': a = tf.conv2d(xs as tf.Tensor4D, kernel as tf.Tensor4D, 1, 'valid'); break; // xs: the depthwise output
    case 'conv2dTranspose': a = transposedConv(p, xs, kernel); break;
    // One-hot rows times the matrix, not a gather: the same values, and a gradient on every backend
    // (tfjs-backend-wasm 4.22 has no UnsortedSegmentSum, a gather's gradient).
    case 'embedding': a = denseMap(tf.oneHot(tf.cast(xs, 'int32'), p.kernelFanIn), kernel); break;
    case 'batchNormalization': a = tf.mul(xs, perChannel(kernel, xs.rank)); break;
    case 'layerNormalization': a = tf.mul(xs, kernel); break; // γ's shape is the trailing axes'
    case 'prelu': a = tf.mul(negativePart(xs), kernel); break;
  }
  // LayerNormalization's β has γ's shape (several trailing axes); Θ's bias row comes flat.
  if (bias && p.kind === 'layerNormalization') return tf.add(a, tf.reshape(bias, p.kernel.shape));
  return bias ? tf.add(a, bias) : a;
}

/** Conv2DTranspose's map with a kernel `[kh, kw, C, c_in]` (C: the channels asked for). */
function transposedConv(p: ParamLayer, x: tf.Tensor, kernel: tf.Tensor): tf.Tensor4D {
  const [h, w] = p.outputShape;
  return tf.conv2dTranspose(x as tf.Tensor4D, kernel as tf.Tensor4D, [x.shape[0], h, w, kernel.shape[2]!], p.conv!.strides, p.conv!.padding);
}

/** A layer's kernel as Θ's kernel rows `[kernelFanIn, channels]` (Conv2DTranspose: its last two axes swapped first). */
export function kernelRows(p: ParamLayer, kernel: tf.Tensor): tf.Tensor2D {
  if (p.kind !== 'conv2dTranspose') return tf.reshape(kernel, [p.kernelFanIn, -1]) as tf.Tensor2D;
  return tf.reshape(tf.transpose(kernel, [0, 1, 3, 2]), [p.kernelFanIn, -1]) as tf.Tensor2D;
}

/** Kernel rows `[kernelFanIn, C]` back to a kernel of the layer's layout with C channels. */
export function rowsKernel(p: ParamLayer, rows: tf.Tensor): tf.Tensor {
  const C = rows.shape[1]!;
  if (p.kind === 'conv2dTranspose') {
    const [kh, kw, , cin] = p.kernel.shape;
    return tf.transpose(tf.reshape(rows, [kh, kw, cin, C]), [0, 1, 3, 2]);
  }
  return tf.reshape(rows, C === p.channels ? p.kernel.shape : [...p.kernel.shape.slice(0, -1), C]);
}

/** A conv2d whose gradient exists: a dilation is written into the filter (tfjs cannot differentiate a dilated conv). */
function convNoGradIssue(x: tf.Tensor4D, kernel: tf.Tensor, c: NonNullable<ParamLayer['conv']>): tf.Tensor4D {
  if (c.dilation[0] > 1 || c.dilation[1] > 1) return tf.conv2d(x, undilated(kernel, c.dilation), c.strides, c.padding);
  return tf.conv2d(x, kernel as tf.Tensor4D, c.strides, c.padding);
}

/**
 * Push an input perturbation `d` (batch first, `[N, ...inputShape]`) through the layer with its
 * kernel `kernel` and the round's state frozen (no bias): linear in `d`, differentiable.
 * `shared`: the layer's round state (its derivatives module's `freeze`): BatchNormalization's
 * `invStd` = `1/√(σ²_B + ε)` per channel (the frozen batch statistics), SeparableConv2D's
 * depthwise kernel at `W_n`.
 */
export function inputPush(p: ParamLayer, d: tf.Tensor, kernel: tf.Tensor, shared?: Record<string, tf.Tensor>): tf.Tensor {
  const c = p.conv;
  switch (p.kind) {
    case 'separableConv2d': return separableDepthwiseMap(c!, d, shared!.depthwise, kernel);
    case 'dense': return denseMap(d, kernel);
    case 'conv2d': return convNoGradIssue(d as tf.Tensor4D, kernel, c!);
    case 'conv1d': return tf.squeeze(convNoGradIssue(asImage(d), tf.expandDims(kernel, 0), c!), [1]);
    case 'depthwiseConv2d': return depthwiseConv(d as tf.Tensor4D, kernel, c!.strides, c!.padding, c!.dilation);
    case 'conv2dTranspose': return transposedConv(p, d, kernel);
    case 'embedding': throw new Error('an Embedding takes integer ids: nothing upstream perturbs it');
    case 'batchNormalization': return tf.mul(d, perChannel(tf.mul(kernel, shared!.invStd), d.rank));
    case 'prelu':
    case 'layerNormalization': throw new Error(`a ${p.kind} push needs its round state: clampedPush holds it (its derivatives module)`);
  }
}

/** `min(x, 0)` with x = 0 on the α piece (where tfjs's prelu gradient puts it). */
function negativePart(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.cast(tf.lessEqual(x, 0), 'float32'));
}

/**
 * A scoped PReLU's round state: which inputs are on the α piece (x ≤ 0), per sample. Its push
 * is `d ⊙ (1 on the positive piece, α at W_n on the other)`; `kernel` lets clampedPush pass α.
 */
export const scopedPRelu: LayerDerivatives & { pushWith(state: NodeState, d: tf.Tensor, alpha: tf.Tensor): tf.Tensor } = {
  kind: 'prelu (α scoped; pieces frozen)',
  freeze(_layer, r) {
    return { sample: { negative: tf.cast(tf.lessEqual(r.inputs[0], 0), 'float32') }, shared: { alpha: r.weights.alpha } };
  },
  pushWith(state, d, alpha) {
    // d is [N, ...inputShape] with N = B·K directions: the per-sample mask is broadcast over K.
    const neg = state.sample.negative;
    const B = neg.shape[0];
    const K = d.shape[0] / B;
    const dd = tf.reshape(d, [B, K, ...d.shape.slice(1)]);
    const m = tf.expandDims(neg, 1);
    const slope = tf.add(tf.sub(1, m), tf.mul(m, alpha));
    return tf.reshape(tf.mul(dd, slope), d.shape);
  },
  push(_layer, state, d, s) {
    if (!d[0]) return null;
    const flat = tf.reshape(d[0], [s.B * s.K, ...s.inputShapes[0]]);
    return tf.reshape(this.pushWith(state!, flat, state!.shared!.alpha), [s.B, s.K, ...s.outputShape]);
  },
};

/**
 * The per-channel patches `[B, pos, kh·kw, c_in·M]` of a depthwise kernel `[kh, kw, c_in, M]` on
 * the input `x` (DepthwiseConv2D's own; SeparableConv2D's depthwise group): channel c·M + m sees
 * input channel c's window. One-hot depthwise filters extract the windows.
 */
export function depthwisePatches(p: ParamLayer, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const c = p.conv!;
    const B = x.shape[0];
    const [kh, kw] = c.kernelSize;
    const k = kh * kw;
    const cin = p.inputShape[p.inputShape.length - 1];
    const M = (p.depthwise ? p.depthwise.shape[3]! : p.channels / cin);
    const eye = tf.tile(tf.reshape(tf.eye(k), [kh, kw, 1, k]), [1, 1, cin, 1]);
    const cols = depthwiseConv(x as tf.Tensor4D, eye, c.strides, c.padding, c.dilation); // [B, h, w, cin·k]
    const pos = cols.shape[1]! * cols.shape[2]!;
    const win = tf.transpose(tf.reshape(cols, [B, pos, cin, 1, k]), [0, 1, 4, 2, 3]); // [B, pos, k, cin, 1]
    return tf.reshape(tf.tile(win, [1, 1, 1, 1, M]), [B, pos, k, cin * M]);
  });
}

/**
 * SeparableConv2D without its bias, `pw(dw(x; depthwise); pointwise)`: its push with both kernels
 * at `W_n`, and, with a depthwise change, the layer scope's D part of the Taylor model.
 */
export function separableDepthwiseMap(c: ConvGeometry, x: tf.Tensor, depthwise: tf.Tensor, pointwise: tf.Tensor): tf.Tensor {
  return tf.conv2d(depthwiseConv(x as tf.Tensor4D, depthwise, c.strides, c.padding, c.dilation), pointwise as tf.Tensor4D, 1, 'valid');
}

/**
 * A scoped SeparableConv2D's round state: both kernels at `W_n` (the depthwise one is held in its
 * neuron scopes and in every push through it; the layer input is `capture.nodeRounds`' for the
 * layer scope's D part).
 */
export const scopedSeparableConv2D: LayerDerivatives = {
  kind: 'separableConv2d (pointwise kernel and bias scoped; layer scope: + depthwise kernel)',
  freeze(_layer, r) {
    return { sample: {}, shared: { depthwise: r.weights.depthwise_kernel, pointwise: r.weights.pointwise_kernel } };
  },
  push(layer, state, d, s) {
    if (!d[0]) return null;
    return perDirection(d[0], s, s.inputShapes[0], (flat) => separableDepthwiseMap(separableGeometry(layer), flat, state!.shared!.depthwise, state!.shared!.pointwise));
  },
};

/** A SeparableConv2D's depthwise geometry from its config. */
function separableGeometry(layer: { getConfig(): unknown }): ConvGeometry {
  const cfg = layer.getConfig() as Record<string, unknown>;
  const two = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v as number, v as number]);
  return { kernelSize: two(cfg.kernelSize), strides: two(cfg.strides ?? 1), padding: cfg.padding as 'valid' | 'same', dilation: two(cfg.dilationRate ?? 1) };
}

/** Positions per channel of a layer's pre-activation (1 for a dense layer on a flat input). */
export function paramPositions(p: ParamLayer): number {
  return p.units / p.channels;
}

/**
 * Per-sample patches of a scope input: shared kinds `[B, positions, fanIn]`, per-channel kinds
 * `[B, positions, fanIn, channels]` — row `pos` holds what that position's pre-activation sees,
 * in Θ's row order (kernel rows, then a 1 for the bias where the layer has one), so that
 * `patches · Θ[:, c]` is channel c's pre-activation there.
 */
export function paramPatches(p: ParamLayer, xs: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const B = xs.shape[0];
    const pos = paramPositions(p);
    const c = p.conv;
    if (p.perChannel) {
      let rows: tf.Tensor; // [B, pos, kernelFanIn, channels]
      if (p.kind === 'batchNormalization' || p.kind === 'layerNormalization') {
        rows = tf.reshape(xs, [B, pos, 1, p.channels]);
      } else if (p.kind === 'prelu') {
        rows = tf.reshape(negativePart(xs), [B, pos, 1, p.channels]);
      } else {
        rows = depthwisePatches(p, xs);
      }
      return p.bias ? tf.concat([rows, tf.ones([B, pos, 1, p.channels])], 2) : rows;
    }
    const withOnes = (r: tf.Tensor) => (p.bias ? tf.concat([r, tf.ones([B, pos, 1])], 2) : r);
    // SeparableConv2D: a 1×1 convolution of the depthwise output (its scope input).
    if (p.kind === 'dense' || p.kind === 'separableConv2d') return withOnes(tf.reshape(xs, [B, -1, p.kernelFanIn]));
    if (p.kind === 'embedding') return withOnes(tf.reshape(tf.oneHot(tf.cast(tf.reshape(xs, [-1]), 'int32'), p.kernelFanIn), [B, pos, p.kernelFanIn]));
    if (p.kind === 'conv2dTranspose') {
      // One-hot filters `[kh, kw, (kh, kw, c_in), c_in]`: output channel (k, c) carries the input
      // that reaches each position through tap k from channel c.
      const [kh, kw, , cin] = p.kernel.shape;
      const k = kh * kw * cin;
      const eye = tf.transpose(tf.reshape(tf.eye(k), [kh, kw, cin, k]), [0, 1, 3, 2]);
      return withOnes(tf.reshape(transposedConv(p, xs, eye), [B, -1, k]));
    }
    const [kh, kw] = c!.kernelSize;
    const cin = p.inputShape[p.inputShape.length - 1];
    const k = kh * kw * cin;
    const eye = tf.reshape(tf.eye(k), [kh, kw, cin, k]);
    const img = p.kind === 'conv1d' ? asImage(xs) : xs as tf.Tensor4D;
    const cols = p.kind === 'conv1d' ? convNoGradIssue(img, eye, c!) : tf.conv2d(img, eye as tf.Tensor4D, c!.strides, c!.padding, 'NHWC', c!.dilation);
    return withOnes(tf.reshape(cols, [B, -1, k]));
  });
}
