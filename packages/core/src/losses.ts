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
  /**
   * The same minibatch loss reduced in float64 on the host from the float32 outputs and targets
   * (rows of `outputs` values). Optional: where absent, `incurredLoss` falls back to `compute`.
   */
  hostValue?(f: Float32Array, y: Float32Array, outputs: number): number;
}

/** Mean squared error, mean over the batch and the output units (Keras's `mse`). */
export const meanSquaredError: TaylorLoss = Object.freeze({
  name: 'meanSquaredError',
  compute: (f: tf.Tensor, y: tf.Tensor) => tf.mean(tf.squaredDifference(f, y)) as tf.Scalar,
  quadratic: true,
  absorbs: null,
  hostValue: (f: Float32Array, y: Float32Array) => {
    let sum = 0;
    for (let i = 0; i < f.length; i++) { const d = f[i] - y[i]; sum += d * d; }
    return sum / f.length;
  },
});

/** Softmax cross-entropy on logits, mean over the batch; targets one-hot (or any distribution). */
export const softmaxCrossEntropy: TaylorLoss = Object.freeze({
  name: 'softmaxCrossEntropy',
  compute: (f: tf.Tensor, y: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(f)), -1))) as tf.Scalar,
  quadratic: false,
  absorbs: 'softmax',
  hostValue: (f: Float32Array, y: Float32Array, outputs: number) => {
    const rows = f.length / outputs;
    let sum = 0;
    for (let r = 0; r < rows; r++) {
      const o = r * outputs;
      let max = -Infinity;
      for (let k = 0; k < outputs; k++) max = Math.max(max, f[o + k]);
      let z = 0;
      for (let k = 0; k < outputs; k++) z += Math.exp(f[o + k] - max);
      const lse = max + Math.log(z);
      for (let k = 0; k < outputs; k++) if (y[o + k] !== 0) sum -= y[o + k] * (f[o + k] - lse);
    }
    return sum / rows;
  },
});

/**
 * `ℓ(f, y)` of a minibatch as published (ℓ_n, Σℓ): reduced in float64 on the host where the loss
 * has `hostValue` (a float32 mean over 50,000 squared errors loses ~1e-4 relative), else the
 * loss's own float32 value. Async: some backends read only asynchronously.
 */
export async function incurredLoss(loss: TaylorLoss, f: tf.Tensor, y: tf.Tensor): Promise<number> {
  if (loss.hostValue) {
    const [fv, yv] = await Promise.all([f.data(), y.data()]);
    return loss.hostValue(fv as Float32Array, yv as Float32Array, f.shape[f.rank - 1]);
  }
  const t = tf.tidy(() => loss.compute(f, y));
  const v = (await t.data())[0];
  t.dispose();
  return v;
}

/** How `incurredLoss` reduces this loss (recorded with published values). */
export function lossReduction(loss: TaylorLoss): 'float64 on the host' | 'float32 on the backend' {
  return loss.hostValue ? 'float64 on the host' : 'float32 on the backend';
}

/** A user loss, convex in the output: `compute` must return the minibatch mean. */
export function defineLoss(spec: { name: string; compute: TaylorLoss['compute']; quadratic?: boolean; absorbs?: string | null; hostValue?: TaylorLoss['hostValue'] }): TaylorLoss {
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
