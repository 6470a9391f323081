import * as tf from '@tensorflow/tfjs-core';

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
   * The layout of the targets `y`: `'dense'` (the default when absent) — the shape of the output
   * `f`, `[B, p_L]`; `'sparse'` — one class index per row of `f`, `[B]` or `[B, 1]` (integer
   * valued, int32 or float32), as tfjs's sparseCategoricalCrossentropy takes them.
   */
  readonly targets?: 'dense' | 'sparse';
  /**
   * The same minibatch loss reduced in float64 on the host from the float32 outputs and targets:
   * `f` holds rows of `outputs` values; `y` is flat in the loss's target layout (`targets`): the
   * same length as `f` for dense targets, one class index per row for sparse targets.
   * Optional: where absent, `incurredLoss` falls back to `compute`.
   */
  hostValue?(f: Float32Array, y: Float32Array, outputs: number): number;
  /**
   * The loss of each row, `[N]` for `f` of shape `[N, p_L]` (and `y` in the target layout), whose
   * mean is `compute`. Optional: the regret plugin's stored-round scopes use it where present and
   * otherwise evaluate `compute` one row at a time.
   */
  perSample?(f: tf.Tensor2D, y: tf.Tensor): tf.Tensor1D;
}

/**
 * tfjs's fuzz factor ε (`backend().epsilon()`: 1e-7 on float32 backends, 1e-4 on float16 ones),
 * which tfjs-layers' losses use for their clips.
 */
export function lossEpsilon(): number {
  try {
    return tf.backend().epsilon();
  } catch {
    return 1e-7;
  }
}
