import type { ResolvedOptionsFromSchema } from '@taylorlens/core';
import { defineOptimizer } from '../define-optimizer.js';
import { scaleByLearningRate } from '../pieces/scale-by-learning-rate.js';
import { trace } from '../pieces/trace.js';
import { learningRateOption, numberOption, optionsSchema, unitInterval } from './schema.js';

export const SGD_SCHEMA = optionsSchema({ learningRate: learningRateOption(0.01) });
export type SgdOptions = ResolvedOptionsFromSchema<typeof SGD_SCHEMA>;

/**
 * Plain stochastic gradient descent: w ← w − η·g. Default η = 0.01 (Keras; tfjs requires it).
 *
 * References: Robbins & Monro 1951, "A Stochastic Approximation Method".
 */
export const sgd = defineOptimizer<SgdOptions>({
  name: 'taylorlens.SGD',
  schema: SGD_SCHEMA,
  pieces: (o) => [scaleByLearningRate(o.learningRate)],
});

export const MOMENTUM_SCHEMA = optionsSchema({
    learningRate: learningRateOption(0.01),
    momentum: numberOption(0.9, 'β, the momentum', unitInterval),
  });
export type MomentumOptions = ResolvedOptionsFromSchema<typeof MOMENTUM_SCHEMA>;

/**
 * Heavy-ball momentum as tfjs's MomentumOptimizer: m ← β·m + g, w ← w − η·m. Defaults η = 0.01,
 * β = 0.9 (tfjs requires both; Keras's SGD defaults β to 0, which is `sgd`).
 *
 * References: Polyak 1964, "Some methods of speeding up the convergence of iteration methods";
 * Sutskever, Martens, Dahl & Hinton 2013, "On the importance of initialization and momentum in deep learning".
 */
export const momentum = defineOptimizer<MomentumOptions>({
  name: 'taylorlens.Momentum',
  schema: MOMENTUM_SCHEMA,
  pieces: (o) => [trace({ decay: o.momentum }), scaleByLearningRate(o.learningRate)],
});

export const NESTEROV_SCHEMA = optionsSchema({
    learningRate: learningRateOption(0.01),
    momentum: numberOption(0.9, 'β, the momentum', unitInterval),
  });

/**
 * Nesterov momentum as tfjs's MomentumOptimizer with useNesterov: m ← β·m + g,
 * w ← w − η·(g + β·m). Defaults η = 0.01, β = 0.9.
 *
 * References: Nesterov 1983, "A method for solving the convex programming problem with convergence
 * rate O(1/k²)"; Sutskever et al. 2013 (the form used in deep learning); Dozat 2016, "Incorporating Nesterov Momentum into Adam".
 */
export const nesterov = defineOptimizer<MomentumOptions>({
  name: 'taylorlens.Nesterov',
  schema: NESTEROV_SCHEMA,
  pieces: (o) => [trace({ decay: o.momentum, nesterov: true }), scaleByLearningRate(o.learningRate)],
});
