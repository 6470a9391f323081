import * as tf from '@tensorflow/tfjs-core';
import type { Reducer } from './statistics.js';
import { blockOuterRows, packRowsOf } from './packed.js';

/** Per-sample outer products `vec(x̃x̃ᵀ)` `[S, q²]`. */
export function outerRows(X: tf.Tensor2D): tf.Tensor2D {
  return blockOuterRows(X, 1);
}

/**
 * One round of a dense layer scope under squared error (taylor-math.md), centred at the ball's
 * centre `w₁`: with `u = v − w₁`, `τ^n(v) = κ Σ_b ‖M_b u + e_b‖²`, `M_b = x̃_bᵀ ⊗ J_b`
 * (parameter (i, j) = Θ[i, j], input i then bias, unit j), `e_b = r_b − M_b(w_n − w₁)`,
 * `r_b = f_b − y_b`, `κ = γ/B`. Returns the round's pieces `[x̃, κ vec(J_bᵀJ_b), κ h, c']`:
 *
 *  - `A += κ Σ_b (x̃x̃ᵀ) ⊗ (J_bᵀJ_b)` is, by the reducer, `S = Uᵀ V` with rows x̃x̃ᵀ in U and
 *    κ vec(J_bᵀJ_b) in V — one matmul for several rounds; `S[(i,i'),(j,j')] = A[(i,j),(i',j')]`.
 *    V holds only the upper triangles of the symmetric J_bᵀJ_b (half the matmul), U x̃x̃ᵀ in the
 *    block layout (blockOuterRows: 62% of it; packing U fully would need a gather, slow on wasm);
 *  - `g += κ Σ_b M_bᵀ e_b = Σ_b x̃_b ⊗ κ h_b`, `h_b = J_bᵀr_b − J_bᵀJ_b d_b`, `d_b = x̃_b ΔΘ`, and
 *    `J_bᵀ r_b = δ_b / 2κ` with `δ = ∂ℓ/∂a_l` from the backward pass;
 *  - `c += κ Σ_b ‖e_b‖² = κΣ‖r_b‖² − Σ⟨δ_b, d_b⟩ + κ Σ d_bᵀ(J_bᵀJ_b)d_b`, of which the first term is
 *    `ℓ_n` itself: the caller adds the incurred loss on the host and this returns the rest, `c'`,
 *    so that regret `Σℓ_n − Φ = −(c' + min(uᵀAu + 2gᵀu))` needs no difference of large sums
 *    (and is exactly 0 for a scope whose Jacobian vanishes).
 */
export function denseLayerPieces(xt: tf.Tensor2D, gram: tf.Tensor3D, delta: tf.Tensor2D, dTheta: tf.Tensor2D, kappa: number,
  gramIdx: { flat: tf.Tensor1D }): tf.Tensor[] {
  return tf.tidy(() => {
    const d = tf.matMul(xt, dTheta); // [B, p]
    const gd = tf.sum(tf.mul(gram, tf.expandDims(d, 1)), 2); // J_bᵀJ_b d_b (batched matmuls are slow on wasm)
    const kgd = tf.mul(gd, kappa);
    const h = tf.sub(tf.mul(delta, 0.5), kgd); // κ h_b
    const c = tf.sum(tf.mul(d, tf.sub(kgd, delta))); // Σ_b d_b·(κ J_bᵀJ_b d_b − δ_b)
    return [xt, tf.mul(packRowsOf(gram, gramIdx), kappa), h, c];
  });
}

/**
 * `S [layout rows, p(p+1)/2]` (rows in blockLayout(q), columns packed), `g [1, q·p]`, `c`; unpack S
 * with addUnpackedKron. Without S when a host accumulator took it (`skipA`: the layer sums worker).
 */
export const denseLayerReducer: Reducer = (rounds, skipA) => {
    const X = tf.concat(rounds.map((r) => r[0]), 0) as tf.Tensor2D;
    const H = tf.concat(rounds.map((r) => r[2]), 0);
    return {
      A: skipA ? null : tf.matMul(tf.transpose(blockOuterRows(X)), tf.concat(rounds.map((r) => r[1]), 0)),
      g: tf.reshape(tf.matMul(tf.transpose(X), H), [1, -1]),
      c: tf.addN(rounds.map((r) => r[3])),
    };
};
