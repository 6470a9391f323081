import * as tf from '@tensorflow/tfjs-core';
import { denseMap, kernelRows, paramMap, paramPatches, rowsKernel, type ParamLayer } from '@taylorlens/core';

/**
 * A layer's linear map `x ↦ K·x (+ b)` with a given kernel and bias (not the layer's variables).
 * `x` is the scope input the capture keeps (`capture.layers[l].input`: for BatchNormalization the
 * input normalised with the round's batch statistics, so the map is `γ x̂ + β`).
 */
export function linearWith(p: ParamLayer, x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
  let a: tf.Tensor;
  if (p.kind === 'dense') {
    a = denseMap(x, kernel);
  } else if (p.kind !== 'conv2d') {
    return paramMap(p, x, kernel, bias);
  } else {
    const c = p.conv!;
    a = tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, c.strides, c.padding, 'NHWC', c.dilation);
  }
  return bias ? tf.add(a, bias) : a;
}

/** A layer scope's parameter count: vec(Θ), then SeparableConv2D's depthwise kernel. */
export function layerParamCount(p: ParamLayer): number {
  return p.fanIn * p.channels + (p.depthwise?.size ?? 0);
}

/** Positions per channel of a layer's pre-activation (1 for dense). */
export function positions(p: ParamLayer): number {
  return p.units / p.channels;
}

/** Whether a layer is a Dense layer on flat inputs (one position): the kind with Gram shortcuts. */
export function flatDense(p: ParamLayer): boolean {
  return p.kind === 'dense' && p.units === p.channels;
}

/**
 * Per-sample patches `[B, positions, fanIn]` of a layer's input (per-channel kinds —
 * DepthwiseConv2D, BatchNormalization — `[B, positions, fanIn, channels]`, from core): row `pos` holds the inputs that
 * position's pre-activation sees, in the kernel's (kh, kw, c_in) order, then a 1 for the bias
 * (only where the layer has a bias: a bias-free layer gets no phantom bias column) —
 * so `patches · θ_α` is neuron α's pre-activation. Dense layers: `[B, 1, fanIn]`. A conv with a
 * one-hot kernel per patch element extracts them with the layer's own padding and strides.
 */
export function patches(p: ParamLayer, x: tf.Tensor): tf.Tensor3D {
  if (p.kind !== 'dense' && p.kind !== 'conv2d') return paramPatches(p, x) as tf.Tensor3D; // shared [B, pos, fanIn] or per-channel [B, pos, fanIn, C]
  return tf.tidy(() => {
    const B = x.shape[0];
    const withOnes = (rows: tf.Tensor) => (p.bias ? tf.concat([rows, tf.ones([B, positions(p), 1])], 2) : rows) as tf.Tensor3D;
    // A dense layer on inputs of rank > 1 applies its kernel at every position of the leading axes.
    if (p.kind === 'dense') return withOnes(tf.reshape(x, [B, -1, p.kernelFanIn]));
    const [kh, kw] = p.conv!.kernelSize;
    const cin = p.inputShape[p.inputShape.length - 1];
    const k = kh * kw * cin;
    const eye = tf.reshape(tf.eye(k), [kh, kw, cin, k]);
    const c = p.conv!;
    const cols = tf.conv2d(x as tf.Tensor4D, eye as tf.Tensor4D, c.strides, c.padding, 'NHWC', c.dilation);
    return withOnes(tf.reshape(cols, [B, -1, k]));
  });
}

/** The layer's parameters as the matrix Θ `[fanIn, channels]`: kernel rows, then the bias row if the layer has a bias. */
export function thetaOf(p: ParamLayer, kernel: tf.Tensor = p.kernel, bias: tf.Tensor | undefined | null = p.bias): tf.Tensor2D {
  return tf.tidy(() => {
    const k = p.kind === 'conv2dTranspose' ? kernelRows(p, kernel) : tf.reshape(kernel, [p.kernelFanIn, p.channels]) as tf.Tensor2D;
    if (!p.bias) return k;
    const b = bias ? tf.reshape(bias, [1, p.channels]) : tf.zeros([1, p.channels]);
    return tf.concat([k, b], 0) as tf.Tensor2D;
  });
}

/**
 * Θ `[fanIn, C]` back to a kernel of the layer's shape and a bias `[C]` (null for a bias-free
 * layer). C below the layer's channel count (a neuron subset) only for shared-patch kinds, whose
 * kernel's last axis is the channels.
 */
export function splitTheta(p: ParamLayer, theta: tf.Tensor): { kernel: tf.Tensor; bias: tf.Tensor | null } {
  const C = theta.shape[1]!;
  if (C !== p.channels && p.perChannel) throw new Error(`splitTheta: layer "${p.name}" (${p.kind}) has per-channel patches; a subset of its channels is not a layer of its kind`);
  const rows = tf.slice(theta, [0, 0], [p.kernelFanIn, C]);
  const kernel = p.kind === 'conv2dTranspose' ? rowsKernel(p, rows) : tf.reshape(rows, C === p.channels ? p.kernel.shape : [...p.kernel.shape.slice(0, -1), C]);
  const bias = p.bias ? tf.reshape(tf.slice(theta, [p.kernelFanIn, 0], [1, C]), [C]) : null;
  return { kernel, bias };
}
