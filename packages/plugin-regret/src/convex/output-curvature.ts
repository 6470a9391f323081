/**
 * The loss's curvature in output space, `S = ∇²_f ℓ(f, y)`, as the quadratic form `½ zᵀ S z`
 * written with tf ops (linear coefficients fixed at the point f): its gradient through the clamped
 * push `z = J v` is the exact Hessian product `Jᵀ S J v` of a Taylor loss in one forward and one
 * backward pass. tfjs has no second-order autodiff, so S is written out for the losses we know:
 *  - squared error `ℓ = (γ/B) Σ_b ‖f_b − y_b‖²`: `S = (2γ/B) I`, the same at every f (quadratic);
 *  - softmax cross-entropy on logits, `ℓ = −(1/B) Σ_b Σ_k y_bk log softmax(f_b)_k`:
 *    `S_b = (c_b/B)(diag p_b − p_b p_bᵀ)`, `p_b = softmax(f_b)`, `c_b = Σ_k y_bk` (1 for class-index
 *    targets, sparse softmax cross-entropy).
 * Other losses get null: their network scope falls back to projected L-BFGS.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TaylorLoss } from '@taylorlens/core';

export interface OutputCurvature {
  /** The loss is quadratic: one curvature serves every point. */
  readonly quadratic: boolean;
  /** Squared error's γ (the form is `(γ/B) Σ z²`); null for other losses. */
  readonly gamma: number | null;
  readonly name: string;
  /**
   * `½ zᵀ S(f) z` summed over the batch, for `z` and `f` of shape `[B, p_L]`; `f` only matters for
   * non-quadratic losses (pass the Taylor output at the current point).
   */
  form(z: tf.Tensor2D, f: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar;
}

/** `gamma`: the plugin's measured squared-error scale (null when the loss is not of that form). */
export function outputCurvature(loss: TaylorLoss, gamma: number | null): OutputCurvature | null {
  if (gamma !== null) {
    return { quadratic: true, gamma, name: 'squared error', form: (z) => tf.mul(gamma / z.shape[0], tf.sum(tf.square(z))) as tf.Scalar };
  }
  const sparse = loss.name === 'sparseSoftmaxCrossEntropy';
  if ((loss.name === 'softmaxCrossEntropy' || sparse) && loss.absorbs === 'softmax') {
    return {
      quadratic: false,
      gamma: null,
      name: sparse ? 'sparse softmax cross-entropy' : 'softmax cross-entropy',
      form: (z, f, y) => tf.tidy(() => {
        const p = tf.softmax(f);
        const c = sparse ? tf.ones([f.shape[0]]) : tf.sum(y, -1);
        const pz = tf.sum(tf.mul(p, z), -1);
        const perSample = tf.sub(tf.sum(tf.mul(p, tf.square(z)), -1), tf.square(pz));
        return tf.div(tf.sum(tf.mul(c, perSample)), 2 * z.shape[0]) as tf.Scalar;
      }),
    };
  }
  return null;
}

/**
 * Squared error's form's gradient `S z = (2γ/B) z` written out, bit for bit what `tf.grad` of the form gives
 * (`(γ/B)·(2z)`: scaling by 2 is exact, so `(2γ/B)·z` rounds the same). Self-contained: the
 * network products worker runs its text, and a worker's tfjs has no gradients registered.
 */
export function squaredErrorFormGradient(tfjs: typeof tf, gamma: number, z: tf.Tensor2D): tf.Tensor2D {
  return tfjs.mul(z, (2 * gamma) / z.shape[0]);
}
