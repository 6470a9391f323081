/**
 * One home for the Taylor math of every layer kind: a registry from tfjs class name to its
 * derivatives module. Third parties register their own layers with `registerDerivatives`; a layer
 * without parameters that nobody registered falls back to autodiff (exact, slower); one with
 * parameters, or a recurrent layer, is refused with the reason.
 */
import type { Layer, LayerDerivatives } from './types.js';
import { ACTIVATION_LAYERS } from './elementwise.js';
import { autodiffFallback } from './autodiff.js';
import { DROPOUT_LAYERS } from './dropout.js';
import { FROZEN_PARAM_LAYERS } from './frozen-params.js';
import { MERGE_LAYERS } from './merge.js';
import { NORMALIZATION_LAYERS } from './normalization.js';
import { POOLING_LAYERS } from './pooling.js';
import { LINEAR_LAYERS } from './shape.js';

const registry = new Map<string, LayerDerivatives>(Object.entries({
  ...LINEAR_LAYERS, ...ACTIVATION_LAYERS, ...POOLING_LAYERS, ...MERGE_LAYERS, ...DROPOUT_LAYERS,
  ...NORMALIZATION_LAYERS, ...FROZEN_PARAM_LAYERS,
}));

/** Layers the Taylor machinery refuses, with what would make them work. */
const REFUSED: Record<string, string> = {
  LSTM: 'recurrent layers are not supported yet',
  GRU: 'recurrent layers are not supported yet',
  SimpleRNN: 'recurrent layers are not supported yet',
  RNN: 'recurrent layers are not supported yet',
  ConvLSTM2D: 'recurrent layers are not supported yet',
  Bidirectional: 'recurrent wrappers are not supported yet',
  TimeDistributed: 'wrappers are not supported yet; apply the inner layer to a reshaped input instead',
  AlphaDropout: 'its noise is affine and not reproducible from the round: remove it or use Dropout',
};

/** Register (or replace) the derivatives of a layer class, by its tfjs class name. */
export function registerDerivatives(className: string, module: LayerDerivatives): void {
  if (!module || typeof module.push !== 'function') {
    throw new Error(`registerDerivatives("${className}"): expected a module with a push(layer, state, d, shape) function`);
  }
  registry.set(className, module);
}

/** The class names with a registered module (built-in or registered). */
export function registeredLayerClasses(): string[] {
  return [...registry.keys()].sort();
}

export type Resolution =
  | { module: LayerDerivatives; via: 'registered' | 'autodiff' }
  | { module: null; problem: string };

/** How a layer's derivatives are found: its module, the autodiff fallback, or why neither works. */
export function derivativesFor(layer: Layer): Resolution {
  const cls = layer.getClassName();
  const module = registry.get(cls);
  if (module) {
    const problem = module.check?.(layer) ?? null;
    return problem ? { module: null, problem } : { module, via: 'registered' };
  }
  if (REFUSED[cls]) return { module: null, problem: REFUSED[cls] };
  if (layer.weights.length > 0) {
    return { module: null, problem: `it has parameters and no derivatives module: call registerDerivatives("${cls}", …) with its push` };
  }
  return { module: autodiffFallback, via: 'autodiff' };
}
