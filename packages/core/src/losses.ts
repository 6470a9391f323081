import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';

/**
 * A loss `ℓ(f, y)` convex in the network output `f`, as the Taylor machinery needs it
 * (taylor-math.md): the minibatch mean, whether it is quadratic, and which output activation
 * it applies itself (so that `f` is the last pre-activation).
 */
export interface TaylorLoss {
  readonly name: string;
  /** Minibatch loss: mean over the batch (and, for MSE, over output units). */
  compute(f: tf.Tensor, y: tf.Tensor): tf.Scalar;
  /** Quadratic in `f`: enables the exact running-statistics shortcut. */
  readonly quadratic: boolean;
  /** Output activation the loss applies itself (e.g. softmax), or null. */
  readonly absorbs: string | null;
}

/** Mean squared error, mean over the batch and the output units (Keras's `mse`). */
export const meanSquaredError: TaylorLoss = Object.freeze({
  name: 'meanSquaredError',
  compute: (f: tf.Tensor, y: tf.Tensor) => tf.mean(tf.squaredDifference(f, y)) as tf.Scalar,
  quadratic: true,
  absorbs: null,
});

/** Softmax cross-entropy on logits, mean over the batch; targets one-hot (or any distribution). */
export const softmaxCrossEntropy: TaylorLoss = Object.freeze({
  name: 'softmaxCrossEntropy',
  compute: (f: tf.Tensor, y: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(f)), -1))) as tf.Scalar,
  quadratic: false,
  absorbs: 'softmax',
});

/** A user loss, convex in the output: `compute` must return the minibatch mean. */
export function defineLoss(spec: { name: string; compute: TaylorLoss['compute']; quadratic?: boolean; absorbs?: string | null }): TaylorLoss {
  return Object.freeze({ quadratic: false, absorbs: null, ...spec });
}

const BY_NAME: Record<string, TaylorLoss> = {
  meanSquaredError, mse: meanSquaredError, mean_squared_error: meanSquaredError,
  softmaxCrossEntropy, categoricalCrossentropy: softmaxCrossEntropy, categorical_crossentropy: softmaxCrossEntropy,
};

export const LOSS_NAMES = ['meanSquaredError', 'mse', 'softmaxCrossEntropy', 'categoricalCrossentropy'];

/**
 * The loss to train with: the one passed in, else the model's compiled loss. Keras's
 * `categoricalCrossentropy` on a softmax output becomes softmax cross-entropy on the logits:
 * the same value, computed stably, and the form the Taylor machinery needs.
 */
export function resolveLoss(model: LayersModel, given?: TaylorLoss | string): TaylorLoss {
  const spec = given ?? (model as unknown as { loss?: unknown }).loss;
  if (spec === undefined || spec === null) {
    throw new Error('no loss: compile the model with a loss or pass `loss` to the Trainer');
  }
  if (typeof spec === 'string') {
    const loss = BY_NAME[spec];
    if (!loss) throw new Error(`unknown loss "${spec}": expected one of ${LOSS_NAMES.join(', ')} or a TaylorLoss`);
    return loss;
  }
  if (Array.isArray(spec)) return resolveLoss(model, spec[0]);
  if (typeof spec === 'object' && 'compute' in (spec as object)) return spec as TaylorLoss;
  throw new Error('the model was compiled with a loss function object; pass a TaylorLoss (defineLoss) to the Trainer instead');
}
