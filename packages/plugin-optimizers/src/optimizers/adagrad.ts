import type { ResolvedOptionsFromSchema } from '@taylorlens/core';
import { defineOptimizer } from '../define-optimizer.js';
import { scaleByLearningRate } from '../pieces/scale-by-learning-rate.js';
import { scaleByRss } from '../pieces/scale-by-rss.js';
import { epsilonOption, learningRateOption, numberOption, optionsSchema } from './schema.js';

export const ADAGRAD_SCHEMA = optionsSchema({
    learningRate: learningRateOption(0.001),
    initialAccumulatorValue: numberOption(0.1, 'a₀, the accumulator start', { minimum: 0 }),
    epsilon: epsilonOption(),
  });
export type AdagradOptions = ResolvedOptionsFromSchema<typeof ADAGRAD_SCHEMA>;

/**
 * AdaGrad as tfjs's AdagradOptimizer: a ← a + g², w ← w − η·g/√(a + ε), a₀ = 0.1.
 * Defaults η = 0.001 (Keras; tfjs requires it), a₀ = 0.1 (both), ε = 1e-7 (tfjs's float32 ε,
 * under the root; Keras adds it outside the root).
 *
 * References: Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods for Online Learning and Stochastic Optimization".
 */
export const adagrad = defineOptimizer<AdagradOptions>({
  name: 'taylorlens.Adagrad',
  schema: ADAGRAD_SCHEMA,
  pieces: (o) => [
    scaleByRss({ initialAccumulatorValue: o.initialAccumulatorValue, epsilon: o.epsilon }),
    scaleByLearningRate(o.learningRate),
  ],
});
