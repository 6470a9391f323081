import * as tf from '@tensorflow/tfjs-core';
import type { TaylorLoss } from '@taylorlens/core';

/**
 * The exact running statistics need a loss of the form `ℓ = (γ/B) Σ_b ‖f_b − y_b‖²` (MSE has
 * γ = 1/p_L). Returns γ when `loss` is declared quadratic and has that form (checked numerically
 * on two batch sizes), else null: then the loss is handled like any convex loss, by stored rounds.
 */
export function squaredErrorScale(loss: TaylorLoss, outputSize: number): number | null {
  if (!loss.quadratic) return null;
  // Once, before training, on tiny tensors: a synchronous read is harmless here.
  const gammas: number[] = [];
  for (const [B, seed] of [[3, 1], [5, 2]]) {
    const [value, sq] = tf.tidy(() => {
      const f = tf.randomNormal([B, outputSize], 0, 1, 'float32', seed);
      const y = tf.randomNormal([B, outputSize], 0, 1, 'float32', seed + 10);
      return [loss.compute(f, y).dataSync()[0], tf.sum(tf.squaredDifference(f, y)).dataSync()[0]];
    });
    gammas.push((value * B) / sq);
  }
  const [a, b] = gammas;
  return Number.isFinite(a) && a > 0 && Math.abs(a - b) <= 1e-4 * Math.abs(a) ? (a + b) / 2 : null;
}
