/**
 * Per-unit log-volume of configuration space: for unit `m`, the `N × D` 0/1 matrix `A[:, :, m]`
 * (rows: snapshots, columns: probe inputs) is centred over time (each column minus its mean over
 * the `N` snapshots), and we take the sum of the logs of its `k = min(count, N, D)` largest
 * singular values, `count = 50` by default (the paper's "log-product of the first 50").
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
import { centredGram } from './centred-gram.js';
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
  const sigma = new Float64Array(k);
  const { rowStart, weight } = distinctRows(bits, base, N, W);
  const r = rowStart.length;
  // One configuration throughout: the centred matrix is exactly 0.
  if (r < 2) return { sigma, distinct: r };
  const S = centredGram(bits, rowStart, weight, W);
  const rows: Float64Array[] = [];
  for (let i = 0; i < r; i++) rows.push(S.subarray(i * r, (i + 1) * r));
  const lambda = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true }).realEigenvalues;
  lambda.sort((a, b) => b - a);
  const zero = r * EPSILON * Math.max(lambda[0], 0);
  for (let i = 0; i < Math.min(k, r); i++) sigma[i] = lambda[i] > zero ? Math.sqrt(lambda[i]) : 0;
  return { sigma, distinct: r };
}

/** `k = min(count, N, D)`: how many singular values the measure sums. */
export function singularValueCount(tensor: ConfigurationTensor, count = DEFAULT_SINGULAR_VALUE_COUNT): number {
  return Math.min(count, tensor.snapshots, tensor.probes);
}

/** The `k` largest singular values of unit `m`'s time-centred `N × D` matrix, descending. */
export function unitSingularValues(tensor: ConfigurationTensor, m: number, count = DEFAULT_SINGULAR_VALUE_COUNT): Float64Array {
  const bits = unitBitsets(tensor, m);
  return centredSingularValues(bits, 0, tensor.snapshots, bitsetWords(tensor.probes), singularValueCount(tensor, count)).sigma;
}

/** `Σ log max(σ_i, floor)` over the given singular values. */
export function logProduct(sigma: ArrayLike<number>, floor: number): number {
  let s = 0;
  for (let i = 0; i < sigma.length; i++) s += Math.log(Math.max(sigma[i], floor));
  return s;
}

/** The measure for every unit of `tensor`. */
export function singularValueLogProducts(tensor: ConfigurationTensor, options: SingularValueOptions = {}): SingularValueLogProducts {
  const floor = options.floor ?? DEFAULT_SINGULAR_VALUE_FLOOR;
  if (!(floor > 0)) throw new RangeError(`floor must be > 0, got ${floor}`);
  const { snapshots: N, probes: D, units: M } = tensor;
  const k = singularValueCount(tensor, options.count);
  const W = bitsetWords(D);
  const perUnit = new Float64Array(M);
  const distinct = new Uint32Array(M);
  let block: Uint32Array | undefined;
  for (let j = 0; j < tensor.rowBytes; j++) {
    block = byteColumnBitsets(tensor, j, block);
    for (let t = 0; t < 8 && 8 * j + t < M; t++) {
      const { sigma, distinct: r } = centredSingularValues(block, t * N * W, N, W, k);
      perUnit[8 * j + t] = logProduct(sigma, floor);
      distinct[8 * j + t] = r;
    }
  }
  const sorted = perUnit.slice().sort().reverse();
  return { perUnit, sorted, distinct, k, floor };
}
