import { defineOptimizer } from '../define-optimizer.js';
import { scaleByLearningRate } from '../pieces/scale-by-learning-rate.js';
import { scaleBySign } from '../pieces/scale-by-sign.js';
import { learningRateOption, optionsSchema } from './schema.js';

export interface SignSgdOptions {
  learningRate: number;
}

/**
 * signSGD: w ← w − η·sign(g). Default η = 0.001 (no tfjs or Keras counterpart; every weight moves
 * by η per step, about Adam's early step). `stepSize` is η.
 *
 * References: Bernstein, Wang, Azizzadenesheli & Anandkumar 2018, "signSGD: Compressed Optimisation for Non-Convex Problems".
 */
export const signSGD = defineOptimizer<SignSgdOptions>({
  name: 'taylorlens.SignSGD',
  schema: optionsSchema({ learningRate: learningRateOption(0.001) }),
  pieces: (o) => [scaleBySign(), scaleByLearningRate(o.learningRate)],
});
