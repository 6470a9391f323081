// Optimizers for taylorlens: optax-style pieces, chained into named optimizers that are tfjs
// Optimizers (for model.fit) and report their step (for the trainer).
export type { NamedTensors } from '@taylorlens/core';
export type {
  AnyTransformation, GradientTransformation, Scale, Schedule, Slots, State, UpdateExtra, UpdateResult,
} from './transform.js';
export { chain } from './chain.js';
export { ScalarCache } from './constants.js';
export { gaussianSamples, drawSeed, hashString } from './random.js';
export { OptionsError, type JsonSchema } from './options.js';
export { TaylorOptimizer, type NamedTensor } from './taylor-optimizer.js';
export {
  defineOptimizer, type OptimizerDefinition, type PiecesDefinition, type InitUpdateDefinition,
  type OptimizerClass, type OptimizerFactory,
} from './define-optimizer.js';

export { scaleByLearningRate } from './pieces/scale-by-learning-rate.js';
export { trace, type TraceOptions } from './pieces/trace.js';
export { scaleByRms, type ScaleByRmsOptions } from './pieces/scale-by-rms.js';
export { scaleByAdam, type ScaleByAdamOptions } from './pieces/scale-by-adam.js';
export { scaleByRss, type ScaleByRssOptions } from './pieces/scale-by-rss.js';
export { scaleBySign } from './pieces/scale-by-sign.js';
export { scaleByRprop, type ScaleByRpropOptions } from './pieces/scale-by-rprop.js';
export { addDecayedWeights } from './pieces/add-decayed-weights.js';
export { clipByGlobalNorm } from './pieces/clip-by-global-norm.js';
export { addAnnealedNoise, annealedNoiseStd, type AddAnnealedNoiseOptions } from './pieces/add-annealed-noise.js';

export * from './optimizers/index.js';
export { taylorlensPlugin } from './module.js';
