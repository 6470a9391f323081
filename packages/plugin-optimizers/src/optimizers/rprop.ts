import type { ResolvedOptionsFromSchema } from '@taylorlens/core';
import { defineOptimizer } from '../define-optimizer.js';
import { scaleByLearningRate } from '../pieces/scale-by-learning-rate.js';
import { scaleByRprop } from '../pieces/scale-by-rprop.js';
import { numberOption, optionsSchema } from './schema.js';

export const RPROP_SCHEMA = optionsSchema({
    initialStepSize: numberOption(0.01, 'Δ₀, every weight\'s first step', { exclusiveMinimum: 0 }),
    etaMinus: numberOption(0.5, 'η⁻, shrink factor after a sign change', { exclusiveMinimum: 0, exclusiveMaximum: 1 }),
    etaPlus: numberOption(1.2, 'η⁺, growth factor while the sign holds', { exclusiveMinimum: 1 }),
    minStepSize: numberOption(1e-6, 'Δmin', { minimum: 0 }),
    maxStepSize: numberOption(50, 'Δmax', { exclusiveMinimum: 0 }),
  });
export type RpropOptions = ResolvedOptionsFromSchema<typeof RPROP_SCHEMA>;

/**
 * iRprop−: per-weight step sizes grown by η⁺ while the gradient keeps its sign and shrunk by η⁻
 * (forgetting that gradient) when it flips; w ← w − sign(g)·Δ. Defaults Δ₀ = 0.01, η⁻ = 0.5,
 * η⁺ = 1.2, Δ ∈ [1e-6, 50] (PyTorch's; the papers use Δ₀ = 0.1). The step size lives in Δ, so the
 * reported learning rate is 1 and `stepSize` is Δ. For full-batch training. tfjs has no Rprop.
 *
 * References: Riedmiller & Braun 1993, "A Direct Adaptive Method for Faster Backpropagation Learning:
 * The RPROP Algorithm"; Igel & Hüsken 2000, "Improving the Rprop Learning Algorithm".
 */
export const rprop = defineOptimizer<RpropOptions>({
  name: 'taylorlens.Rprop',
  schema: RPROP_SCHEMA,
  pieces: (o) => [scaleByRprop(o), scaleByLearningRate(1)],
});
