/**
 * Layers with parameters that taylorlens does not move as a scope (Conv1D, DepthwiseConv2D,
 * SeparableConv2D, Conv2DTranspose and Embedding only when anatomy.ts does not scope them — not
 * trainable, a dilated transpose — see params.ts): their parameters are
 * held at `W_n` like everything else outside the scope, so in the push they are linear maps of
 * their input (kernel at `W_n`, no bias) followed by their own activation's slope. Embedding
 * takes integer ids: nothing upstream can perturb it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Layer, LayerDerivatives, NodeState } from './types.js';
import { depthwiseConv, only, perDirection, timesPerSample, undilated } from './util.js';

type Op = (layer: Layer, x: tf.Tensor, w: Record<string, tf.Tensor>, batch: number) => tf.Tensor;

function cfgOf(layer: Layer): Record<string, unknown> {
  return layer.getConfig() as Record<string, unknown>;
}
const one = (v: unknown): number => (Array.isArray(v) ? v[0] : (v as number));
const two = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v as number, v as number]);

function channelsLast(layer: Layer): string | null {
  return cfgOf(layer).dataFormat === 'channelsFirst' ? 'channelsFirst data is not supported; use channelsLast' : null;
}

// Dilations are written into the filters and depthwise convolutions avoid kernels a backend
// lacks (util.ts): every op here must have a gradient, or the pull (reverse mode) fails.
const OPS: Record<string, Op> = {
  Conv1D: (l, x, w) => {
    const c = cfgOf(l);
    const k = w.kernel;
    const wide = tf.squeeze(undilated(tf.expandDims(k, 0), [1, one(c.dilationRate) ?? 1]), [0]) as tf.Tensor3D;
    return tf.conv1d(x as tf.Tensor3D, wide, one(c.strides), c.padding as 'same', 'NWC', 1);
  },
  // tfjs-layers 4.22's DepthwiseConv2D ignores its dilationRate (it convolves with dilation null):
  // the push follows what the layer computes.
  DepthwiseConv2D: (l, x, w) => { const c = cfgOf(l); return depthwiseConv(x as tf.Tensor4D, w.depthwise_kernel, two(c.strides), c.padding as 'same', [1, 1]); },
  SeparableConv2D: (l, x, w) => {
    const c = cfgOf(l);
    const depthwise = depthwiseConv(x as tf.Tensor4D, w.depthwise_kernel, two(c.strides), c.padding as 'same', two(c.dilationRate ?? 1));
    return tf.conv2d(depthwise, w.pointwise_kernel as tf.Tensor4D, 1, 'valid');
  },
  Conv2DTranspose: (l, x, w) => {
    const c = cfgOf(l);
    const out = (l.outputShape as number[]).slice(1);
    return tf.conv2dTranspose(x as tf.Tensor4D, w.kernel as tf.Tensor4D, [x.shape[0], out[0], out[1], out[2]], two(c.strides), c.padding as 'same');
  },
};

function activationApply(layer: Layer): ((t: tf.Tensor) => tf.Tensor) | null {
  const a = (layer as unknown as { activation?: { apply(t: tf.Tensor): tf.Tensor; getClassName(): string } }).activation;
  return a && a.getClassName().toLowerCase() !== 'linear' ? (t) => a.apply(t) : null;
}

function frozenLinear(kind: string, op: Op): LayerDerivatives {
  return {
    kind: `${kind} (parameters held at W_n)`,
    check: channelsLast,
    freeze(layer, r): NodeState {
      const act = activationApply(layer);
      if (!act) return { sample: {}, shared: { ...r.weights } };
      const slope = tf.tidy(() => {
        let a = op(layer, r.inputs[0], r.weights, r.inputs[0].shape[0]);
        if (r.weights.bias) a = tf.add(a, r.weights.bias);
        return tf.grad((t: tf.Tensor) => tf.sum(act(t)))(a);
      });
      return { sample: { slope }, shared: { ...r.weights } };
    },
    push(layer, state, d, s) {
      const di = only(d);
      if (!di) return null;
      const out = perDirection(di, s, s.inputShapes[0], (flat) => op(layer, flat, state!.shared!, flat.shape[0]));
      return state!.sample.slope ? timesPerSample(out, state!.sample.slope) : out;
    },
  };
}

export const FROZEN_PARAM_LAYERS: Record<string, LayerDerivatives> = {
  ...Object.fromEntries(Object.entries(OPS).map(([c, op]) => [c, frozenLinear(c, op)])),
  Embedding: { kind: 'embedding (integer input: nothing upstream moves it)', push: () => null },
};
