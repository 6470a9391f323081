import type { ResolvedOptionsFromSchema } from '@taylorlens/core';
import { defineOptimizer } from '../define-optimizer.js';
import { addAnnealedNoise } from '../pieces/add-annealed-noise.js';
import { scaleByLearningRate } from '../pieces/scale-by-learning-rate.js';
import { learningRateOption, numberOption, optionsSchema } from './schema.js';

export const NOISY_S_G_D_SCHEMA = optionsSchema({
    learningRate: learningRateOption(0.01),
    eta: numberOption(0.01, 'η, noise variance at t = 0', { minimum: 0 }),
    gamma: numberOption(0.55, 'γ, annealing exponent', { minimum: 0 }),
    seed: { type: 'integer', default: 0, description: 'seed of the noise' },
  });
export type NoisySgdOptions = ResolvedOptionsFromSchema<typeof NOISY_S_G_D_SCHEMA>;

/**
 * SGD with annealed Gaussian gradient noise: w ← w − η_lr·(g + ε_t), ε_t ~ N(0, η/(1+t)^γ),
 * t = step (0 first). Defaults η_lr = 0.01, η = 0.01, γ = 0.55 (the paper's γ and smallest η),
 * seed 0; the noise is a pure function of (seed, t, variable name), so runs are reproducible.
 *
 * References: Neelakantan, Vilnis, Le, Sutskever, Kaiser, Kurach & Martens 2016, "Adding Gradient
 * Noise Improves Learning for Very Deep Networks".
 */
export const noisySGD = defineOptimizer<NoisySgdOptions>({
  name: 'taylorlens.NoisySGD',
  schema: NOISY_S_G_D_SCHEMA,
  pieces: (o) => [addAnnealedNoise({ eta: o.eta, gamma: o.gamma, seed: o.seed }), scaleByLearningRate(o.learningRate)],
});
