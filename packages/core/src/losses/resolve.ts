/**
 * From a loss name (tfjs-layers' compile names, their snake_case and short forms, tf.losses
 * names) or a compiled tf.losses function to the TaylorLoss that equals tfjs's loss as compiled
 * and is convex in the network output — or an error that says why a loss is not.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, layers } from '@tensorflow/tfjs-layers';
import { categoricalHinge, hinge, squaredHinge } from './margin.js';
import { kullbackLeiblerDivergence, poisson, sigmoidCrossEntropy, softmaxCrossEntropy, sparseSoftmaxCrossEntropy } from './probability.js';
import { huberLoss, logcosh, meanAbsoluteError, meanAbsolutePercentageError, meanSquaredError } from './regression.js';
import type { TaylorLoss } from './types.js';

/** A named loss: the TaylorLoss, and the output activation tfjs must apply before it for it to be convex (absorbed). */
interface Entry {
  loss: TaylorLoss;
  /** tfjs applies the loss to this activation's output; absent it, the compiled loss is not convex (`why`). */
  needs?: { activation: string; why: string; logits?: string };
  /** tfjs applies this activation itself: a model that already ends in it would apply it twice. */
  forbids?: { activation: string; why: string };
}

const PROBABILITIES = (name: string, activation: string, onRaw: string, logits?: string) => ({
  activation,
  logits,
  why: `tfjs computes "${name}" on the model's output as probabilities; on raw outputs it computes ${onRaw}, which is not convex in the output`,
});

const ENTRIES: Record<string, Entry> = {
  meanSquaredError: { loss: meanSquaredError },
  meanAbsoluteError: { loss: meanAbsoluteError },
  meanAbsolutePercentageError: { loss: meanAbsolutePercentageError },
  huberLoss: { loss: huberLoss },
  logcosh: { loss: logcosh },
  hinge: { loss: hinge },
  squaredHinge: { loss: squaredHinge },
  categoricalHinge: { loss: categoricalHinge },
  categoricalCrossentropy: {
    loss: softmaxCrossEntropy,
    needs: PROBABILITIES('categoricalCrossentropy', 'softmax', '−Σ y·log(clip(out/Σout, ε, 1−ε)) (flat outside [ε, 1−ε])', 'softmaxCrossEntropy'),
  },
  sparseCategoricalCrossentropy: {
    loss: sparseSoftmaxCrossEntropy,
    needs: PROBABILITIES('sparseCategoricalCrossentropy', 'softmax', '−log(clip(out_y/Σout, ε, 1−ε)) (flat outside [ε, 1−ε])', 'sparseSoftmaxCrossEntropy'),
  },
  binaryCrossentropy: {
    loss: sigmoidCrossEntropy,
    needs: PROBABILITIES('binaryCrossentropy', 'sigmoid', 'the logistic loss of log(p/(1−p)) with p = clip(out, ε, 1−ε) (flat outside [ε, 1−ε])', 'sigmoidCrossEntropy'),
  },
  logLoss: {
    loss: sigmoidCrossEntropy,
    needs: PROBABILITIES('logLoss', 'sigmoid', '−y·log(out+ε) − (1−y)·log(1−out+ε), finite only for out in (−ε, 1+ε) while the Taylor output, affine in the weights, leaves that interval', 'sigmoidCrossEntropy'),
  },
  kullbackLeiblerDivergence: {
    loss: kullbackLeiblerDivergence,
    needs: PROBABILITIES('kullbackLeiblerDivergence', 'softmax', 'Σ y·log(clip(y, ε, 1)/clip(out, ε, 1)) (flat where out < ε)'),
  },
  poisson: {
    loss: poisson,
    needs: {
      activation: 'softplus',
      why: 'tfjs computes "poisson" as mean(out − y·log(out + ε)), finite and convex only for out > −ε (NaN below), and the Taylor output, affine in the weights, leaves that half-line; ' +
        'on a softplus output the loss, taken on the pre-activation, is softplus(f) − y·log softplus(f), convex in f (tfjs has no exponential activation)',
    },
  },
  // taylorlens's own names for losses on logits (tf.losses' names where tf.losses has them): the
  // model's output is the logits, or ends in the activation, which the loss then absorbs.
  softmaxCrossEntropy: { loss: softmaxCrossEntropy },
  sparseSoftmaxCrossEntropy: { loss: sparseSoftmaxCrossEntropy },
  sigmoidCrossEntropy: { loss: sigmoidCrossEntropy },
};

/** The loss names resolveLoss accepts (canonical spellings; LOSS_ALIASES lists the other accepted spellings). */
export const LOSS_NAMES: readonly string[] = Object.freeze(Object.keys(ENTRIES));

/** Other spellings tfjs accepts or writes for these losses: tfjs-layers' short aliases, snake_case (saved models' trainingConfig), tf.losses names, Keras names. */
export const LOSS_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  mse: 'meanSquaredError', MSE: 'meanSquaredError', mean_squared_error: 'meanSquaredError',
  mae: 'meanAbsoluteError', MAE: 'meanAbsoluteError', mean_absolute_error: 'meanAbsoluteError',
  absoluteDifference: 'meanAbsoluteError', absolute_difference: 'meanAbsoluteError',
  mape: 'meanAbsolutePercentageError', MAPE: 'meanAbsolutePercentageError', mean_absolute_percentage_error: 'meanAbsolutePercentageError',
  huber: 'huberLoss', huber_loss: 'huberLoss',
  log_cosh: 'logcosh',
  squared_hinge: 'squaredHinge',
  categorical_hinge: 'categoricalHinge',
  categorical_crossentropy: 'categoricalCrossentropy',
  sparse_categorical_crossentropy: 'sparseCategoricalCrossentropy',
  binary_crossentropy: 'binaryCrossentropy',
  log_loss: 'logLoss',
  kld: 'kullbackLeiblerDivergence', KLD: 'kullbackLeiblerDivergence', kullback_leibler_divergence: 'kullbackLeiblerDivergence',
  softmax_cross_entropy: 'softmaxCrossEntropy',
  sparse_softmax_cross_entropy: 'sparseSoftmaxCrossEntropy',
  sigmoid_cross_entropy: 'sigmoidCrossEntropy',
});

/** tfjs losses that are not convex in the output, and why. */
const NOT_CONVEX: Record<string, string> = {
  meanSquaredLogarithmicError: '(log(1 + clip(out, ε, ∞)) − log(1 + clip(y, ε, ∞)))² is flat below ε and, as a square of a concave function, concave where log(1 + out) exceeds log(1 + y) + 1',
  cosineProximity: '−⟨y/‖y‖, out/‖out‖⟩ is invariant to the scale of out, so not convex',
};
const NOT_CONVEX_ALIASES: Record<string, string> = {
  msle: 'meanSquaredLogarithmicError', MSLE: 'meanSquaredLogarithmicError', mean_squared_logarithmic_error: 'meanSquaredLogarithmicError',
  cosine: 'cosineProximity', cosine_proximity: 'cosineProximity',
};

const OWN = 'define your own convex loss with defineLoss({ name, compute, hostValue? }) and pass it as `loss`';

/** tf.losses functions compiled as objects (`model.compile({ loss: tf.losses.huberLoss })`): reduced to a mean without weights. */
function compiledFunctions(): Map<unknown, { name: string; entry: Entry }> {
  const l = tf.losses;
  return new Map<unknown, { name: string; entry: Entry }>([
    [l.meanSquaredError, { name: 'tf.losses.meanSquaredError', entry: ENTRIES.meanSquaredError }],
    [l.absoluteDifference, { name: 'tf.losses.absoluteDifference', entry: ENTRIES.meanAbsoluteError }],
    [l.huberLoss, { name: 'tf.losses.huberLoss', entry: ENTRIES.huberLoss }],
    [l.logLoss, { name: 'tf.losses.logLoss', entry: ENTRIES.logLoss }],
    [l.softmaxCrossEntropy, {
      name: 'tf.losses.softmaxCrossEntropy',
      entry: { loss: softmaxCrossEntropy, forbids: { activation: 'softmax', why: 'tf.losses.softmaxCrossEntropy applies softmax to the model\'s output, which already is a softmax: the compiled loss is the cross-entropy of softmax(softmax(logits)), not convex in the logits; compile with "categoricalCrossentropy" instead' } },
    }],
    [l.sigmoidCrossEntropy, {
      name: 'tf.losses.sigmoidCrossEntropy',
      entry: { loss: sigmoidCrossEntropy, forbids: { activation: 'sigmoid', why: 'tf.losses.sigmoidCrossEntropy applies a sigmoid to the model\'s output, which already is a sigmoid: the compiled loss is not convex in the logits; compile with "binaryCrossentropy" instead' } },
    }],
  ]);
}

const PASS_THROUGH = new Set(['Flatten', 'Reshape', 'Dropout', 'InputLayer']);

/**
 * The activation on the model's output as tfjs applies it: an Activation (or ReLU) layer's, else
 * the output layer's own `activation` ('linear' when it has none), looking through flatten,
 * reshape and dropout.
 */
export function outputActivation(model: LayersModel): string {
  const out = (model.outputs?.[0] as { sourceLayer?: layers.Layer } | undefined)?.sourceLayer;
  let layer: layers.Layer | undefined = out ?? model.layers[model.layers.length - 1];
  for (let i = 0; layer && PASS_THROUGH.has(layer.getClassName()) && i < 1000; i++) {
    layer = layer.inboundNodes?.[0]?.inboundLayers?.[0];
  }
  if (!layer) return 'linear';
  const cls = layer.getClassName();
  if (cls === 'ReLU') return 'relu';
  if (cls === 'Softmax') return 'softmax';
  const act = (layer.getConfig() as { activation?: unknown }).activation;
  return typeof act === 'string' ? act : 'linear';
}

function checked(model: LayersModel, name: string, entry: Entry): TaylorLoss {
  const act = outputActivation(model);
  if (entry.needs && act !== entry.needs.activation) {
    const n = entry.needs;
    throw new Error(
      `loss "${name}" is not convex in this model's output: the last layer's activation is "${act}", not "${n.activation}". ${n.why}. ` +
      `Put activation "${n.activation}" on the last layer (the loss absorbs it, so the Taylor output is its pre-activation)` +
      `${n.logits ? `; if the outputs are logits, pass loss "${n.logits}" instead` : ''}; or ${OWN}.`);
  }
  if (entry.forbids && act === entry.forbids.activation) {
    throw new Error(`loss "${name}" is not convex in this model's output: ${entry.forbids.why}; or ${OWN}.`);
  }
  return entry.loss;
}

/** The entry for a loss name, or an error naming the reason (not convex) or the accepted names. */
function byName(model: LayersModel, spec: string): TaylorLoss {
  const canonical = ENTRIES[spec] ? spec : LOSS_ALIASES[spec];
  if (canonical) return checked(model, spec, ENTRIES[canonical]);
  const refused = NOT_CONVEX[spec] ? spec : NOT_CONVEX_ALIASES[spec];
  if (refused) throw new Error(`loss "${spec}" is not convex in the network output, which the Taylor machinery needs: ${NOT_CONVEX[refused]}; ${OWN}.`);
  throw new Error(`unknown loss "${spec}": expected one of ${LOSS_NAMES.join(', ')} (or their snake_case and short forms: ${Object.keys(LOSS_ALIASES).join(', ')}), a TaylorLoss, or ${OWN}`);
}

/**
 * The loss to train with: the one passed in, else the model's compiled loss. A name means tfjs's
 * loss as tfjs computes it on the model's output; those on probabilities need the matching
 * activation on the last layer and absorb it: `categoricalCrossentropy` on a softmax output
 * becomes softmax cross-entropy on the logits — the same value, computed stably, and the form
 * the Taylor machinery needs. A TaylorLoss object is used as given.
 */
export function resolveLoss(model: LayersModel, given?: TaylorLoss | string): TaylorLoss {
  const spec = given ?? (model as unknown as { loss?: unknown }).loss;
  if (spec === undefined || spec === null) {
    throw new Error('no loss: compile the model with a loss or pass `loss` to the Trainer');
  }
  if (typeof spec === 'string') return byName(model, spec);
  if (Array.isArray(spec)) return resolveLoss(model, spec[0]);
  if (typeof spec === 'function') {
    const known = compiledFunctions().get(spec);
    if (known) return checked(model, known.name, known.entry);
    throw new Error(`the model was compiled with a loss function object (${(spec as { name?: string }).name || 'anonymous'}); pass a TaylorLoss (defineLoss) or a loss name (${LOSS_NAMES.join(', ')}) to the Trainer instead`);
  }
  if (typeof spec === 'object' && 'compute' in (spec as object)) return spec as TaylorLoss;
  // compile({ loss: { outputName: loss } }) on a single-output model.
  const values = typeof spec === 'object' ? Object.values(spec as object) : [];
  if (values.length === 1 && (typeof values[0] === 'string' || typeof values[0] === 'function')) return resolveLoss(model, values[0] as string);
  throw new Error('the model was compiled with a loss taylorlens cannot read; pass a TaylorLoss (defineLoss) or a loss name to the Trainer instead');
}
