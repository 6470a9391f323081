/**
 * Dropout in training mode multiplies by a random mask scaled by 1/(1 − rate). The clamped pass
 * must use the round's mask, which tfjs does not expose: so when a round is instrumented the
 * layer is evaluated as `x · mask` with `mask = dropout(ones)` drawn by the layer itself, and
 * the push multiplies by that same mask. (Evaluated outside training, dropout is the identity.)
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Layer, LayerDerivatives, NodeState } from './types.js';
import { only, timesPerSample } from './util.js';

export interface ForwardKeepingState {
  /** Evaluate the layer in training mode and return the output with the state the push needs. */
  applyKeepingState(layer: Layer, inputs: tf.Tensor[]): { output: tf.Tensor; state: NodeState };
}

export const dropout: LayerDerivatives & ForwardKeepingState = {
  kind: 'dropout',
  applyKeepingState(layer, inputs) {
    const x = inputs[0];
    const mask = layer.apply(tf.onesLike(x), { training: true }) as tf.Tensor;
    return { output: tf.mul(x, mask), state: { sample: { mask } } };
  },
  push(layer, state, d) {
    const di = only(d);
    if (!di) return null;
    if (!state?.sample.mask) throw new Error(`the mask "${layer.name}" drew this round was not kept: capture the round with require({ preActivations: true })`);
    return timesPerSample(di, state.sample.mask);
  },
};

export const DROPOUT_LAYERS: Record<string, LayerDerivatives> = {
  Dropout: dropout, SpatialDropout1D: dropout, SpatialDropout2D: dropout, GaussianDropout: dropout,
  // Additive noise moves every output by the same amount whatever the input: the identity.
  GaussianNoise: { kind: 'gaussianNoise', push: (_l, _s, d) => only(d) },
};
