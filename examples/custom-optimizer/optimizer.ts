// A third-party optimizer written only against @taylorlens/plugin-optimizers' public API:
// Lion, as one new piece (its sign-of-interpolated-momentum direction) chained with stock pieces.
import * as tf from '@tensorflow/tfjs-core';
import {
  addDecayedWeights, defineOptimizer, ScalarCache, scaleByLearningRate,
  type GradientTransformation, type NamedTensors, type State,
} from '@taylorlens/plugin-optimizers';

type LionSlots = { momentum: tf.Tensor };

/**
 * Lion's direction: c = β₁m + (1−β₁)g, output sign(c), then m' = β₂m + (1−β₂)g. A change of
 * direction only, so it reports no scale (Lion's step size is its learning rate).
 *
 * References: Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms" (Algorithm 2).
 */
export function scaleByLion(beta1: number, beta2: number): GradientTransformation<LionSlots> {
  const constants = new ScalarCache(); // β's as cached scalars: no per-step scalar tensors
  return {
    name: 'lion',
    init(params) {
      const state: State<LionSlots> = {};
      for (const name of Object.keys(params)) state[name] = { momentum: tf.zerosLike(params[name]) };
      return state;
    },
    update(updates, state) {
      const out: NamedTensors = {};
      const next: State<LionSlots> = {};
      for (const name of Object.keys(updates)) {
        const g = updates[name];
        const m = state[name].momentum;
        // c = m + (1−β₁)(g − m) and m' = m + (1−β₂)(g − m) share g − m.
        const gap = tf.sub(g, m);
        out[name] = tf.sign(tf.add(m, tf.mul(gap, constants.get(1 - beta1))));
        next[name] = { momentum: tf.add(m, tf.mul(gap, constants.get(1 - beta2))) };
      }
      return { updates: out, state: next };
    },
    dispose: () => constants.dispose(),
  };
}

export interface LionOptions {
  learningRate: number;
  beta1: number;
  beta2: number;
  weightDecay: number;
}

/**
 * Lion: w ← w − η·(sign(β₁m + (1−β₁)g) + λw), m ← β₂m + (1−β₂)g.
 * Defaults from the paper: η = 1e-4, β₁ = 0.9, β₂ = 0.99, λ = 0.
 *
 * References: Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms".
 */
export const lion = defineOptimizer<LionOptions>({
  name: 'example.Lion',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      learningRate: { type: 'number', exclusiveMinimum: 0, default: 1e-4 },
      beta1: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.9 },
      beta2: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.99 },
      weightDecay: { type: 'number', minimum: 0, default: 0 },
    },
  },
  pieces: (o) => [scaleByLion(o.beta1, o.beta2), addDecayedWeights(o.weightDecay), scaleByLearningRate(o.learningRate)],
});
