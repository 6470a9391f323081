import type { ResolvedOptionsFromSchema } from '@taylorlens/core';
import { defineOptimizer } from '../define-optimizer.js';
import { scaleByLearningRate } from '../pieces/scale-by-learning-rate.js';
import { scaleByRms } from '../pieces/scale-by-rms.js';
import { trace } from '../pieces/trace.js';
import type { AnyTransformation } from '../transform.js';
import { booleanOption, epsilonOption, learningRateOption, numberOption, optionsSchema, unitInterval } from './schema.js';

export const RMSPROP_SCHEMA = optionsSchema({
    learningRate: learningRateOption(0.001),
    decay: numberOption(0.9, 'ρ, decay of the mean square', unitInterval),
    momentum: numberOption(0, 'μ, momentum of the scaled step', unitInterval),
    epsilon: epsilonOption(),
    centered: booleanOption(false, 'divide by the running standard deviation'),
  });
export type RmspropOptions = ResolvedOptionsFromSchema<typeof RMSPROP_SCHEMA>;

/**
 * RMSProp as tfjs's RMSPropOptimizer: s ← ρs + (1−ρ)g², m ← μm + g/√(s + ε), w ← w − η·m
 * (m = the step itself when μ = 0). Centred: also ḡ ← ρḡ + (1−ρ)g and √(s − ḡ² + ε).
 * Defaults η = 0.001 (Keras; tfjs requires it), ρ = 0.9, μ = 0, ε = 1e-7, centred false (tfjs).
 * Differences: tfjs multiplies η inside the momentum buffer (the same numbers for a constant η);
 * tfjs's centred variant computes √(s − ḡ² − ε), we add ε as TensorFlow and Graves do.
 *
 * References: Tieleman & Hinton 2012, "Lecture 6.5 — RMSProp"; Graves 2013, "Generating Sequences
 * With Recurrent Neural Networks" (centred).
 */
export const rmsprop = defineOptimizer<RmspropOptions>({
  name: 'taylorlens.RMSProp',
  schema: RMSPROP_SCHEMA,
  pieces: (o) => {
    const pieces: AnyTransformation[] = [scaleByRms({ decay: o.decay, epsilon: o.epsilon, centered: o.centered })];
    if (o.momentum > 0) pieces.push(trace({ decay: o.momentum }));
    pieces.push(scaleByLearningRate(o.learningRate));
    return pieces;
  },
});
