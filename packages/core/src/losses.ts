import * as tf from '@tensorflow/tfjs-core';
import type { TaylorLoss } from './losses/types.js';

export type { TaylorLoss } from './losses/types.js';
export { lossEpsilon } from './losses/types.js';
export { huberLoss, logcosh, meanAbsoluteError, meanAbsolutePercentageError, meanSquaredError } from './losses/regression.js';
export { categoricalHinge, hinge, squaredHinge } from './losses/margin.js';
export { kullbackLeiblerDivergence, poisson, sigmoidCrossEntropy, softmaxCrossEntropy, sparseSoftmaxCrossEntropy } from './losses/probability.js';
export { LOSS_ALIASES, LOSS_NAMES, outputActivation, resolveLoss } from './losses/resolve.js';

/**
 * `ℓ(f, y)` of a minibatch as published (ℓ_n, Σℓ): reduced in float64 on the host where the loss
 * has `hostValue` (a float32 mean over 50,000 squared errors loses ~1e-4 relative), else the
 * loss's own float32 value. `y` is in the loss's target layout (`TaylorLoss.targets`): f's shape,
 * or one class index per row for sparse targets; integer targets are read as float32.
 * Async: some backends read only asynchronously.
 */
export async function incurredLoss(loss: TaylorLoss, f: tf.Tensor, y: tf.Tensor): Promise<number> {
  if (loss.hostValue) {
    const [fv, yv] = await Promise.all([f.data(), y.data()]);
    const yf = yv instanceof Float32Array ? yv : Float32Array.from(yv as ArrayLike<number>);
    return loss.hostValue(fv as Float32Array, yf, f.shape[f.rank - 1]);
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
export function defineLoss(spec: {
  name: string; compute: TaylorLoss['compute']; quadratic?: boolean; absorbs?: string | null;
  targets?: TaylorLoss['targets']; hostValue?: TaylorLoss['hostValue']; perSample?: TaylorLoss['perSample'];
}): TaylorLoss {
  return Object.freeze({ quadratic: false, absorbs: null, ...spec });
}
