/**
 * Gram matrix of the time-centred rows of one unit's `N × D` 0/1 matrix `X = A[:, :, m]`,
 * built from integer co-activation counts instead of floats per probe input.
 *
 * Centring subtracts the mean over snapshots from every column: `C = H X` with
 * `H = I − 𝟙𝟙ᵀ/N` (symmetric, idempotent). With `P = X Xᵀ`, `P_ij = popcount(x_i AND x_j)`:
 *
 *   C Cᵀ = H P H = P − (1/N)(𝟙𝟙ᵀP + P𝟙𝟙ᵀ) + (1/N²) 𝟙𝟙ᵀ P 𝟙𝟙ᵀ,
 *   (C Cᵀ)_ij = P_ij − r_i/N − r_j/N + T/N²,   r_i = Σ_j P_ij,  T = Σ_i r_i.
 *
 * Equal snapshots give equal rows of X, hence equal rows and columns of C Cᵀ; a unit that rarely
 * flips has few distinct rows. So we work on the `r` distinct rows `u_1..u_r` with multiplicities
 * `w_1..w_r` (Σ w = N): `X = E U` with `E` the N×r class indicator, and `C Cᵀ = E G Eᵀ` where
 *
 *   G_ij = Q_ij − t_i/N − t_j/N + τ/N²,   Q_ij = popcount(u_i AND u_j),
 *   t_i = Σ_j Q_ij w_j (= r_n for any n in class i),   τ = Σ_i w_i t_i (= T).
 *
 * The nonzero eigenvalues of `E G Eᵀ` are those of `G Eᵀ E = G diag(w)`, which is similar to the
 * symmetric `S = diag(√w) G diag(√w)`, the r×r matrix returned here. With all `w = 1` it is the
 * full `C Cᵀ`. `Q`, `t`, `τ` are exact integers; only the last step rounds.
 */
import { andCountWords } from './popcount.js';

/**
 * `S` (row-major `r × r`) from bitsets `bits` of `W` words: distinct row `i` starts at word
 * `rowStart[i]` and occurs `weight[i]` times among the `N = Σ weight` snapshots.
 */
export function centredGram(bits: Uint32Array, rowStart: ArrayLike<number>, weight: ArrayLike<number>, words: number): Float64Array {
  const r = rowStart.length;
  let N = 0;
  for (let i = 0; i < r; i++) N += weight[i];
  const Q = new Float64Array(r * r);
  for (let i = 0; i < r; i++) {
    for (let j = i; j < r; j++) {
      const q = andCountWords(bits, rowStart[i], bits, rowStart[j], words);
      Q[i * r + j] = q;
      Q[j * r + i] = q;
    }
  }
  const t = new Float64Array(r);
  let tau = 0;
  for (let i = 0; i < r; i++) {
    let s = 0;
    for (let j = 0; j < r; j++) s += Q[i * r + j] * weight[j];
    t[i] = s;
    tau += weight[i] * s;
  }
  // N²·G_ij is an integer below N²·D, exact in a double well past any realistic N and D:
  // form it first, so the only roundings are the final division and scaling.
  const S = Q; // overwritten in place, entry by entry
  const N2 = N * N;
  for (let i = 0; i < r; i++) {
    const si = Math.sqrt(weight[i]);
    for (let j = 0; j < r; j++) {
      const n2g = N2 * Q[i * r + j] - N * (t[i] + t[j]) + tau;
      S[i * r + j] = (si * Math.sqrt(weight[j]) * n2g) / N2;
    }
  }
  return S;
}
