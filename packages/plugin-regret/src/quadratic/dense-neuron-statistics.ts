import * as tf from '@tensorflow/tfjs-core';
import { blockOuterRows } from './packed.js';
import type { Reducer } from './statistics.js';

/**
 * One round of K neurons of a dense layer under squared error, centred at `w₁`. Neuron α's
 * parameters are its incoming weights and bias `θ_α = Θ[:, α]`; `M_b = J_b[:, α] x̃_bᵀ`, so
 * `M_bᵀM_b = n_bα x̃x̃ᵀ` with `n_bα = ‖J_b[:, α]‖²` (the Gram's diagonal). Pieces
 * `[x̃, κN, κH, c']`; the reducer forms every neuron's A in one matmul `A = (κN)ᵀ U`, U with rows
 * x̃x̃ᵀ in a two-block symmetric layout (see blockOuterRows):
 *  - `A_α += κ Σ_b n_bα x̃_b x̃_bᵀ`,
 *  - `g_α += Σ_b x̃_b κ(δ_bα / 2κ − n_bα d_bα)`, `d_bα = x̃_b · (θ_α,n − θ_α,1)`,
 *  - `c'_α += κ Σ_b n_bα d_bα² − Σ_b δ_bα d_bα` (c without its `ℓ_n`, see denseLayerPieces).
 * `n` may be `[B, 1]` of ones (an output layer's neurons): then every neuron shares one A.
 */
export function denseNeuronPieces(xt: tf.Tensor2D, n: tf.Tensor2D, delta: tf.Tensor2D, dTheta: tf.Tensor2D, kappa: number): tf.Tensor[] {
  return tf.tidy(() => {
    const d = tf.matMul(xt, dTheta); // [B, K]
    const kn = tf.mul(n, kappa);
    const knd = tf.mul(kn, d); // κ n_bα d_bα
    const h = tf.sub(tf.mul(delta, 0.5), knd);
    const c = tf.sum(tf.mul(d, tf.sub(knd, delta)), 0); // Σ_b d (κ n d − δ)
    return [xt, kn, h, c];
  });
}

export const denseNeuronReducer: Reducer = (rounds) => {
  const X = tf.concat(rounds.map((r) => r[0]), 0) as tf.Tensor2D;
  const N = tf.concat(rounds.map((r) => r[1]), 0);
  const H = tf.concat(rounds.map((r) => r[2]), 0);
  const shared = N.shape[1] === 1;
  return {
    // Shared: one X̃ᵀ diag(κ) X̃ without forming the per-sample outer products. Else [K, q²].
    // Else every neuron's A in the two-block symmetric layout (¾ of the products), [K, ~¾q²].
    A: shared ? tf.reshape(tf.matMul(tf.transpose(tf.mul(X, N)), X), [1, -1]) : tf.matMul(tf.transpose(N), blockOuterRows(X)),
    g: tf.matMul(tf.transpose(H), X), // [K, q]
    c: tf.addN(rounds.map((r) => r[3])),
  };
};

/**
 * The same sums for wide fan-in (an input layer of 785): the packed per-sample outer products
 * would take rows·¾q² floats (≈ 300 M for ten buffered rounds of 64 at q = 785), so every
 * neuron's `A_α = X̃ᵀ diag(κ n_α) X̃` is its own 2-D matmul instead (no broadcast copies of X̃,
 * and 2-D matmuls run several times faster than batched ones on wasm), in the full `[K, q²]` layout.
 */
export const wideDenseNeuronReducer: Reducer = (rounds) => {
  const X = tf.concat(rounds.map((r) => r[0]), 0) as tf.Tensor2D;
  const N = tf.concat(rounds.map((r) => r[1]), 0);
  const H = tf.concat(rounds.map((r) => r[2]), 0);
  const K = N.shape[1] as number;
  const Xt = tf.transpose(X);
  const A = tf.stack(tf.split(N, K, 1).map((w) => tf.reshape(tf.matMul(tf.mul(Xt, tf.transpose(w)), X), [-1])));
  return { A, g: tf.matMul(tf.transpose(H), X), c: tf.addN(rounds.map((r) => r[3])) };
};

/** Above this fan-in the packed outer products cost more memory than the batched matmul. */
export const WIDE_FAN_IN = 128;
