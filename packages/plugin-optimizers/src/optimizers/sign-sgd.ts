import type { ResolvedOptionsFromSchema } from '@taylorlens/core';
import { defineOptimizer } from '../define-optimizer.js';
import { scaleByLearningRate } from '../pieces/scale-by-learning-rate.js';
import { scaleBySign } from '../pieces/scale-by-sign.js';
import { learningRateOption, optionsSchema } from './schema.js';

export const SIGN_S_G_D_SCHEMA = optionsSchema({ learningRate: learningRateOption(0.001) });
export type SignSgdOptions = ResolvedOptionsFromSchema<typeof SIGN_S_G_D_SCHEMA>;

/**
 * signSGD: w ← w − η·sign(g). Default η = 0.001 (no tfjs or Keras counterpart; every weight moves
 * by η per step, about Adam's early step). `stepSize` is η.
 *
 * References: Bernstein, Wang, Azizzadenesheli & Anandkumar 2018, "signSGD: Compressed Optimisation for Non-Convex Problems".
 */
export const signSGD = defineOptimizer<SignSgdOptions>({
  name: 'taylorlens.SignSGD',
  schema: SIGN_S_G_D_SCHEMA,
  pieces: (o) => [scaleBySign(), scaleByLearningRate(o.learningRate)],
});
