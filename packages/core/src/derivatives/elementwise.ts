/**
 * Activation layers. An elementwise one is frozen as its slope at the round's input, taken from
 * autodiff of the layer itself so that the convention at kinks is the one training uses (ReLU's
 * slope at 0 is 0, LeakyReLU's there is α, as tfjs's gradients). Softmax couples its axis:
 * `J d = s ⊙ (d − ⟨s, d⟩)`; logSoftmax too: `J d = d − ⟨s, d⟩` (s its softmax).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Layer, LayerDerivatives } from './types.js';
import { directionAxis, gradOfSum, only, timesPerSample } from './util.js';

const slopeFrozen = (kind: string, slope: (layer: Layer, x: tf.Tensor, weights: Record<string, tf.Tensor>) => tf.Tensor): LayerDerivatives => ({
  kind,
  freeze: (layer, r) => ({ sample: { slope: slope(layer, r.inputs[0], r.weights) } }),
  push(_layer, state, d) {
    const di = only(d);
    return di ? timesPerSample(di, state!.sample.slope) : null;
  },
});

const ownSlope = (layer: Layer, x: tf.Tensor) => gradOfSum((t) => layer.apply(t, { training: true }) as tf.Tensor, x);

export function softmaxAxis(layer: Layer): number {
  const cfg = layer.getConfig() as { axis?: number | number[] };
  return Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis ?? -1;
}

export const softmax: LayerDerivatives = {
  kind: 'softmax',
  freeze: (_layer, r) => ({ sample: { s: r.output } }),
  push(layer, state, d, shape) {
    const di = only(d);
    if (!di) return null;
    const s = tf.expandDims(state!.sample.s, 1);
    const axis = directionAxis(layer.getClassName() === 'Softmax' ? softmaxAxis(layer) : -1, shape.outputShape.length);
    return tf.mul(s, tf.sub(di, tf.sum(tf.mul(s, di), axis, true)));
  },
};

/** `Activation('logSoftmax')` (last axis): `J d = d − ⟨s, d⟩` with `s = exp(output)`, the softmax. */
export const logSoftmax: LayerDerivatives = {
  kind: 'logSoftmax',
  freeze: (_layer, r) => ({ sample: { s: tf.exp(r.output) } }),
  push(_layer, state, d) {
    const di = only(d);
    if (!di) return null;
    const s = tf.expandDims(state!.sample.s, 1);
    return tf.sub(di, tf.sum(tf.mul(s, di), -1, true));
  },
};

function activationOf(layer: Layer): string {
  const cfg = layer.getConfig() as { activation?: string };
  return (cfg.activation ?? 'linear').toLowerCase();
}

const elementwiseActivation = slopeFrozen('activation', ownSlope);

/**
 * `Activation(name)`: softmax and logSoftmax couple their last axis (logSoftmax was pushed as
 * elementwise, with the slope of Σ logSoftmax: wrong); every other tfjs activation is elementwise.
 */
const activationModule = (layer: Layer): LayerDerivatives => {
  const name = activationOf(layer);
  return name === 'softmax' ? softmax : name === 'logsoftmax' ? logSoftmax : elementwiseActivation;
};

export const activation: LayerDerivatives = {
  kind: 'activation',
  freeze: (layer, r) => activationModule(layer).freeze!(layer, r),
  push: (layer, state, d, s) => activationModule(layer).push(layer, state, d, s),
};

/**
 * ThresholdedReLU, `x · [x > θ]`: tfjs has no gradient for Greater, so neither autodiff of the
 * layer nor training can differentiate it; its slope is read from the forward's rule (0 at θ).
 */
const thresholdedSlope = (layer: Layer, x: tf.Tensor) =>
  tf.cast(tf.greater(x, (layer.getConfig() as { theta?: number }).theta ?? 1), 'float32');

/** PReLU: its slope at the input with α at `W_n` (α is a parameter: read from the round's weights, not the live variable). */
const prelu = slopeFrozen('prelu', (_layer, x, w) => gradOfSum((t) => tf.prelu(t, w.alpha), x));

export const ACTIVATION_LAYERS: Record<string, LayerDerivatives> = {
  Activation: activation,
  ReLU: slopeFrozen('relu', ownSlope),
  LeakyReLU: slopeFrozen('leakyReLU', ownSlope),
  ELU: slopeFrozen('elu', ownSlope),
  ThresholdedReLU: slopeFrozen('thresholdedReLU', thresholdedSlope),
  Softmax: softmax,
  PReLU: prelu,
};
