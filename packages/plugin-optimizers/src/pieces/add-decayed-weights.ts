import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors } from '@taylorlens/core';
import { ScalarCache } from '../constants.js';
import type { GradientTransformation } from '../transform.js';
import { checkArg } from './util.js';

/**
 * Decoupled weight decay: u ← u + λ·w. Placed after the adaptive scaling and before
 * `scaleByLearningRate`, it gives AdamW's w ← w − η(m̂/(√v̂+ε) + λw): the decay is not divided by
 * the preconditioner, unlike an L2 term added to the loss. The decay is multiplied by the
 * learning rate (as in optax, Keras and PyTorch). Reports no scale (it is an additive term).
 *
 * References: Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization"; optax `add_decayed_weights`.
 */
export function addDecayedWeights(weightDecay: number): GradientTransformation<Record<string, never>> {
  checkArg('addDecayedWeights', 'weightDecay', weightDecay, weightDecay >= 0, 'a number ≥ 0');
  const constants = new ScalarCache();
  return {
    name: 'weightDecay',
    init: () => ({}),
    update(updates, _state, params) {
      if (weightDecay === 0) return { updates, state: {} };
      const lambda = constants.get(weightDecay);
      const out: NamedTensors = {};
      for (const name of Object.keys(updates)) out[name] = tf.add(updates[name], tf.mul(params[name], lambda));
      return { updates: out, state: {} };
    },
    dispose: () => constants.dispose(),
  };
}
