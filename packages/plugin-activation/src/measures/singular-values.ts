/**
 * Per-unit log-volume of configuration space: for unit `m`, the `N × D` 0/1 matrix `A[:, :, m]`
 * (rows: snapshots, columns: probe inputs) is centred over time (each column minus its mean over
 * the `N` snapshots), and we take the sum of the logs of its `k = min(count, N, D)` largest
 * singular values, `count = 50` by default (the paper's "log-product of the first 50").
 *
 * A unit with `P > 2` pieces is the `N × (D·P)` matrix of its one-hot pieces scaled by `1/√2`
 * (row n, column (d, p): `[A_n[d, m] = p] / √2`), centred over time the same way, with the same
 * `k`. The scale makes the squared distance of two rows the number of probe inputs whose piece
 * differs, so with `P = 2` it is exactly the 0/1 matrix above (its two columns per input are
 * `±c/√2`), and the measure does not depend on how the pieces are numbered. Its Gram matrix comes
 * from those distances: `C Cᵀ = −½ J Δ J` with `Δ_ij` the number of inputs on which snapshots `i`
 * and `j` put the unit in different pieces and `J = I − 𝟙𝟙ᵀ/N` (classical scaling); see
 * `distanceGram`.
 *
 * Singular values come from the eigenvalues `λ` of the Gram matrix of the centred rows
 * (centred-gram.ts; `σ = √max(λ, 0)`), computed with ml-matrix's symmetric
 * `EigenvalueDecomposition`. Cost per unit: `r²/2` AND-popcounts over `D` bits and one `r × r`
 * eigendecomposition, where `r ≤ N` is the number of distinct snapshots of that unit.
 *
 * Zeros and the floor. Centring makes the rank at most `N−1`, so some of the `k` values are zero
 * in theory. The Gram route resolves `σ` only down to about `√(r·ε·λ_max)` (eigenvalues carry
 * absolute errors of order `ε·λ_max`), so eigenvalues below `r·ε·λ_max` (ε = 2⁻⁵²) count as exact
 * zeros. Then every `σ` below `floor` becomes `floor` before the log, so a unit that never
 * changes scores `k·log(floor)`. Default floor: 1e-6 (log ≈ −13.8). The floor shapes the numbers:
 * print it with any plot. Note that the resolution can exceed the default floor (≈ 3e-6 for
 * N=100, D=1000, p=½, where λ_max ≈ 430), so values in between also score `log(floor)`.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import type { ConfigurationTensor } from '../bits.js';
import { asConfigurations, type Configurations } from '../configurations.js';
import { centredGram } from './centred-gram.js';
import { popcount32 } from './popcount.js';
import { distinctRows } from './distinct-rows.js';
import { bitsetWords, byteColumnBitsets, unitBitsets } from './unit-bitsets.js';

export const DEFAULT_SINGULAR_VALUE_FLOOR = 1e-6;
export const DEFAULT_SINGULAR_VALUE_COUNT = 50;

export interface SingularValueOptions {
  /** Singular values below this become it before the log. Default {@link DEFAULT_SINGULAR_VALUE_FLOOR}. */
  floor?: number;
  /** At most this many of the largest singular values. Default {@link DEFAULT_SINGULAR_VALUE_COUNT}. */
  count?: number;
}

export interface SingularValueLogProducts {
  /** `Σ_{i<k} log max(σ_i, floor)` per unit, in unit order (`M` values). */
  perUnit: Float64Array;
  /** The same values sorted descending. */
  sorted: Float64Array;
  /** Distinct configurations of each unit over the snapshots (its rank is at most this minus 1). */
  distinct: Uint32Array;
  /** `min(count, N, D)`, the number of singular values in each sum. */
  k: number;
  /** The floor that was applied. */
  floor: number;
}

/** Relative eigenvalue threshold factor: eigenvalues below `r·ε·λ_max` are treated as zero. */
const EPSILON = 2 ** -52;

export interface CentredSpectrum {
  /** The `k` largest singular values, descending; exact zeros for the unresolvable ones. */
  sigma: Float64Array;
  /** Distinct rows among the `N`. */
  distinct: number;
}

/**
 * Singular values of the time-centred rows stored as bitsets: row `n` at word `base + n·W` of
 * `bits`, `N` rows.
 */
export function centredSingularValues(bits: Uint32Array, base: number, N: number, W: number, k: number): CentredSpectrum {
  const { rowStart, weight } = distinctRows(bits, base, N, W);
  const r = rowStart.length;
  // One configuration throughout: the centred matrix is exactly 0.
  if (r < 2) return { sigma: new Float64Array(k), distinct: r };
  return { sigma: spectrum(centredGram(bits, rowStart, weight, W), r, k), distinct: r };
}

/** The `k` largest singular values from the `r × r` Gram matrix `S` of the centred rows; exact zeros below resolution. */
export function spectrum(S: Float64Array, r: number, k: number): Float64Array {
  const sigma = new Float64Array(k);
  const rows: Float64Array[] = [];
  for (let i = 0; i < r; i++) rows.push(S.subarray(i * r, (i + 1) * r));
  const lambda = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true }).realEigenvalues;
  lambda.sort((a, b) => b - a);
  const zero = r * EPSILON * Math.max(lambda[0], 0);
  for (let i = 0; i < Math.min(k, r); i++) sigma[i] = lambda[i] > zero ? Math.sqrt(lambda[i]) : 0;
  return sigma;
}

/**
 * `S = diag(√w) G diag(√w)` for the distinct rows of a centred matrix known by their squared
 * distances: `Δ` (row-major `r × r`, integers) between distinct rows occurring `w_i` times
 * (`N = Σ w`), `G = −½ J Δ J` restricted to them:
 *
 *   G_ij = −½ (Δ_ij − t_i/N − t_j/N + τ/N²),   t_i = Σ_j Δ_ij w_j,   τ = Σ_i w_i t_i.
 *
 * `N²·G_ij·(−2)` is an integer, formed first, as in centredGram.
 */
export function distanceGram(delta: Float64Array, weight: ArrayLike<number>): Float64Array {
  const r = weight.length;
  let N = 0;
  for (let i = 0; i < r; i++) N += weight[i];
  const t = new Float64Array(r);
  let tau = 0;
  for (let i = 0; i < r; i++) {
    let s = 0;
    for (let j = 0; j < r; j++) s += delta[i * r + j] * weight[j];
    t[i] = s;
    tau += weight[i] * s;
  }
  const N2 = N * N;
  const S = new Float64Array(r * r);
  for (let i = 0; i < r; i++) {
    const si = Math.sqrt(weight[i]);
    for (let j = 0; j < r; j++) {
      const n2g2 = N2 * delta[i * r + j] - N * (t[i] + t[j]) + tau;
      S[i * r + j] = -(si * Math.sqrt(weight[j]) * n2g2) / (2 * N2);
    }
  }
  return S;
}

/**
 * Singular values of one multi-piece unit's centred one-hot matrix, from its bit planes: row `n`
 * (snapshot n) is `w` planes of `W` words, plane `p` the bitset over probe inputs of bit `p` of the
 * piece, at word `(n·w + p)·W` of `planes`.
 */
export function centredPieceSingularValues(planes: Uint32Array, N: number, W: number, w: number, k: number): CentredSpectrum {
  const { rowStart, weight } = distinctRows(planes, 0, N, w * W);
  const r = rowStart.length;
  if (r < 2) return { sigma: new Float64Array(k), distinct: r };
  const delta = new Float64Array(r * r);
  for (let i = 0; i < r; i++) {
    for (let j = i + 1; j < r; j++) {
      let s = 0;
      for (let q = 0; q < W; q++) {
        let x = 0;
        for (let p = 0; p < w; p++) x |= planes[rowStart[i] + p * W + q] ^ planes[rowStart[j] + p * W + q];
        s += popcount32(x);
      }
      delta[i * r + j] = s;
      delta[j * r + i] = s;
    }
  }
  return { sigma: spectrum(distanceGram(delta, weight), r, k), distinct: r };
}

/** Bit planes of pieces-file unit `j` (see centredPieceSingularValues), reading byte columns through `column`. */
export function fieldPlanes(c: Configurations, j: number, column: (col: number) => Uint32Array): Uint32Array {
  const layout = c.layout!;
  const N = c.snapshots;
  const W = bitsetWords(c.probes);
  const w = layout.width[j];
  const out = new Uint32Array(N * w * W);
  for (let p = 0; p < w; p++) {
    const b = layout.bit[j] + p;
    const block = column(b >> 3);
    const t = b & 7;
    for (let n = 0; n < N; n++) out.set(block.subarray((t * N + n) * W, (t * N + n + 1) * W), (n * w + p) * W);
  }
  return out;
}

/** `k = min(count, N, D)`: how many singular values the measure sums. */
export function singularValueCount(tensor: ConfigurationTensor | Configurations, count = DEFAULT_SINGULAR_VALUE_COUNT): number {
  return Math.min(count, tensor.snapshots, tensor.probes);
}

/** The `k` largest singular values of unit `m`'s time-centred matrix (`N × D`, or one-hot `N × D·P`), descending. */
export function unitSingularValues(tensor: ConfigurationTensor | Configurations, m: number, count = DEFAULT_SINGULAR_VALUE_COUNT): Float64Array {
  const c = asConfigurations(tensor);
  const k = singularValueCount(c, count);
  if (m < c.bitUnits) {
    const bits = unitBitsets(c.bits!, m);
    return centredSingularValues(bits, 0, c.snapshots, bitsetWords(c.probes), k).sigma;
  }
  const j = m - c.bitUnits;
  if (!Number.isInteger(m) || m < 0 || j >= c.pieceUnits) throw new RangeError(`unit ${m} outside 0..${c.units - 1}`);
  const planes = fieldPlanes(c, j, (col) => byteColumnBitsets(c.pieces!, col));
  return centredPieceSingularValues(planes, c.snapshots, bitsetWords(c.probes), c.layout!.width[j], k).sigma;
}

/** `Σ log max(σ_i, floor)` over the given singular values. */
export function logProduct(sigma: ArrayLike<number>, floor: number): number {
  let s = 0;
  for (let i = 0; i < sigma.length; i++) s += Math.log(Math.max(sigma[i], floor));
  return s;
}

/** The measure for every unit: the bit-file units first, then the pieces-file units. */
export function singularValueLogProducts(tensor: ConfigurationTensor | Configurations, options: SingularValueOptions = {}): SingularValueLogProducts {
  const floor = options.floor ?? DEFAULT_SINGULAR_VALUE_FLOOR;
  if (!(floor > 0)) throw new RangeError(`floor must be > 0, got ${floor}`);
  const c = asConfigurations(tensor);
  const { snapshots: N, probes: D, units: M } = c;
  const k = singularValueCount(c, options.count);
  const W = bitsetWords(D);
  const perUnit = new Float64Array(M);
  const distinct = new Uint32Array(M);
  if (c.bits) {
    const M2 = c.bitUnits;
    let block: Uint32Array | undefined;
    for (let j = 0; j < c.bits.rowBytes; j++) {
      block = byteColumnBitsets(c.bits, j, block);
      for (let t = 0; t < 8 && 8 * j + t < M2; t++) {
        const { sigma, distinct: r } = centredSingularValues(block, t * N * W, N, W, k);
        perUnit[8 * j + t] = logProduct(sigma, floor);
        distinct[8 * j + t] = r;
      }
    }
  }
  if (c.pieces) {
    // Fields come in increasing bit order and span at most 4 byte columns: keep the few in use.
    const cache = new Map<number, Uint32Array>();
    const column = (col: number): Uint32Array => {
      let b = cache.get(col);
      if (!b) {
        for (const key of cache.keys()) if (key < col - 3) cache.delete(key);
        b = byteColumnBitsets(c.pieces!, col);
        cache.set(col, b);
      }
      return b;
    };
    for (let j = 0; j < c.pieceUnits; j++) {
      const { sigma, distinct: r } = centredPieceSingularValues(fieldPlanes(c, j, column), N, W, c.layout!.width[j], k);
      perUnit[c.bitUnits + j] = logProduct(sigma, floor);
      distinct[c.bitUnits + j] = r;
    }
  }
  const sorted = perUnit.slice().sort().reverse();
  return { perUnit, sorted, distinct, k, floor };
}
