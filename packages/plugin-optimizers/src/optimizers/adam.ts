import type { ResolvedOptionsFromSchema } from '@taylorlens/core';
import { defineOptimizer } from '../define-optimizer.js';
import { addDecayedWeights } from '../pieces/add-decayed-weights.js';
import { scaleByAdam } from '../pieces/scale-by-adam.js';
import { scaleByLearningRate } from '../pieces/scale-by-learning-rate.js';
import { epsilonOption, learningRateOption, numberOption, optionsSchema, unitInterval } from './schema.js';

const adamOptions = {
  learningRate: learningRateOption(0.001),
  beta1: numberOption(0.9, 'β₁, decay of the first moment', unitInterval),
  beta2: numberOption(0.999, 'β₂, decay of the second moment', unitInterval),
  epsilon: epsilonOption(),
};

export const ADAM_SCHEMA = optionsSchema(adamOptions);
export type AdamOptions = ResolvedOptionsFromSchema<typeof ADAM_SCHEMA>;

/**
 * Adam: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − η·m̂/(√v̂ + ε) with bias-corrected m̂, v̂.
 * Defaults η = 0.001, β₁ = 0.9, β₂ = 0.999, ε = 1e-7 — tfjs's `tf.train.adam` and Keras's.
 *
 * References: Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization".
 */
export const adam = defineOptimizer<AdamOptions>({
  name: 'taylorlens.Adam',
  schema: ADAM_SCHEMA,
  pieces: (o) => [scaleByAdam(o), scaleByLearningRate(o.learningRate)],
});

export const ADAMW_SCHEMA = optionsSchema({ ...adamOptions, weightDecay: numberOption(0.004, 'λ, decoupled weight decay', { minimum: 0 }) });
export type AdamwOptions = ResolvedOptionsFromSchema<typeof ADAMW_SCHEMA>;

/**
 * AdamW: w ← w − η·(m̂/(√v̂ + ε) + λ·w), the decay decoupled from the adaptive scaling and
 * multiplied by η (as Keras, optax and PyTorch do). Defaults as Adam plus λ = 0.004 (Keras's AdamW).
 * tfjs has no AdamW.
 *
 * References: Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization".
 */
export const adamw = defineOptimizer<AdamwOptions>({
  name: 'taylorlens.AdamW',
  schema: ADAMW_SCHEMA,
  pieces: (o) => [scaleByAdam(o), addDecayedWeights(o.weightDecay), scaleByLearningRate(o.learningRate)],
});

export const AMSGRAD_SCHEMA = optionsSchema(adamOptions);

/**
 * AMSGrad: Adam with v_max ← max(v_max, v) in place of v (max of the raw second moment, then bias
 * correction, as Keras's `amsgrad=True` and PyTorch do). Defaults as Adam. tfjs has no AMSGrad.
 *
 * References: Reddi, Kale & Kumar 2018, "On the Convergence of Adam and Beyond".
 */
export const amsgrad = defineOptimizer<AdamOptions>({
  name: 'taylorlens.AMSGrad',
  schema: AMSGRAD_SCHEMA,
  pieces: (o) => [scaleByAdam({ ...o, amsgrad: true }), scaleByLearningRate(o.learningRate)],
});
