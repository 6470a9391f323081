import * as tf from '@tensorflow/tfjs-core';
import type { Reducer } from './statistics.js';

/**
 * One round's contribution to the statistics of K problems from their per-sample Jacobian
 * tensors `G` `[K, B, p_L, P]` (conv neurons and conv layers, where `G` sums `J_pos ⊗ patch_pos`
 * over positions), centred at `w₁`: `e_b = r_b − G_b Δw`,
 * `A += κ Σ_b G_bᵀG_b`, `g += κ Σ_b G_bᵀ e_b`, `c += κ Σ_b ‖e_b‖²` — returned without its `ℓ_n`
 * part `κΣ‖r_b‖²` (the caller adds the incurred loss on the host): `c' = κΣ(‖z_b‖² − 2⟨r_b, z_b⟩)`.
 */
export function jacobianTensorStatistics(G: tf.Tensor4D, residual: tf.Tensor2D, dW: tf.Tensor2D, kappa: number):
  { A: tf.Tensor3D; g: tf.Tensor2D; c: tf.Tensor1D } {
  return tf.tidy(() => {
    const [K, B, pL, P] = G.shape;
    const Gf = tf.reshape(G, [K, B * pL, P]) as tf.Tensor3D;
    const z = tf.reshape(tf.matMul(Gf, tf.expandDims(dW, 2)), [K, B * pL]);
    const r = tf.reshape(residual, [1, B * pL]);
    const e = tf.sub(r, z);
    const Gt = tf.transpose(Gf, [0, 2, 1]);
    const A = tf.mul(tf.matMul(Gt, Gf), kappa) as tf.Tensor3D;
    const g = tf.mul(tf.reshape(tf.matMul(Gt, tf.expandDims(e, 2)), [K, P]), kappa) as tf.Tensor2D;
    const c = tf.mul(tf.sum(tf.mul(z, tf.sub(z, tf.mul(r, 2))), 1), kappa) as tf.Tensor1D;
    return { A, g, c };
  });
}

/** Rounds of (A, g, c) summed. */
export const sumReducer: Reducer = (rounds) => ({
  A: tf.addN(rounds.map((r) => r[0])),
  g: tf.addN(rounds.map((r) => r[1])),
  c: tf.addN(rounds.map((r) => r[2])),
});
