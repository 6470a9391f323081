import * as tf from '@tensorflow/tfjs-core';
import type { TaylorLoss } from '@taylorlens/core';

/**
 * The exact running statistics need a loss of the form `ℓ = (γ/B) Σ_b ‖f_b − y_b‖²` (MSE has
 * γ = 1/p_L). Returns γ when `loss` is declared quadratic and has that form (checked numerically
 * on two batch sizes), else null: then the loss is handled like any convex loss, by stored rounds.
 */
export async function squaredErrorScale(loss: TaylorLoss, outputSize: number): Promise<number | null> {
  if (!loss.quadratic) return null;
  const gammas: number[] = [];
  for (const [B, seed] of [[3, 1], [5, 2]]) {
    const pair = tf.tidy(() => {
      const f = tf.randomNormal([B, outputSize], 0, 1, 'float32', seed);
      const y = tf.randomNormal([B, outputSize], 0, 1, 'float32', seed + 10);
      return tf.stack([loss.compute(f, y), tf.sum(tf.squaredDifference(f, y))]);
    });
    // Read asynchronously: webgpu in Node has no synchronous reads.
    const [value, sq] = await pair.data();
    pair.dispose();
    gammas.push((value * B) / sq);
  }
  const [a, b] = gammas;
  return Number.isFinite(a) && a > 0 && Math.abs(a - b) <= 1e-4 * Math.abs(a) ? (a + b) / 2 : null;
}
