/**
 * Minimising the quadratic `q(u) = uᵀAu + 2gᵀu` (A symmetric) exactly, from one eigendecomposition
 * `A = Σ λ_i q_i q_iᵀ`:
 *  - over the ball `‖u‖ ≤ r` (the trust-region subproblem): `(A + λI)u = −g`, `λ ≥ 0`,
 *    `A + λI ⪰ 0`, `λ(‖u‖ − r) = 0`, with λ the root of the secular equation
 *    `1/‖u(λ)‖ = 1/r` found by safeguarded Newton (a scalar root, not an iterative optimiser),
 *    including the hard case where g has no component along the lowest eigenvectors;
 *  - without constraint, the least-norm minimiser with a spectral cut-off (rank reported).
 */
import type { Eigenbasis } from './block-eigen.js';

export interface TrustRegionResult {
  /** Minimiser (one of them when it is not unique). */
  u: Float64Array;
  /** `uᵀAu + 2gᵀu` at `u`. */
  value: number;
  /** Multiplier of the ball constraint. */
  lambda: number;
  onBoundary: boolean;
  /** g had (numerically) no component along the lowest eigenvectors, so λ sits at −λ_min. */
  hardCase: boolean;
  /** KKT residual `‖(A + λI)u + g‖ / max(‖g‖, tiny)`. */
  residual: number;
  /** `|‖u‖ − r| / r` when on the boundary, else 0. */
  boundaryError: number;
  /** Secular-equation iterations. */
  iterations: number;
}

export interface LeastNormResult {
  u: Float64Array;
  /** `uᵀAu + 2gᵀu` at `u`. */
  value: number;
  /** Eigenvalues above the cut-off (the rank used). */
  rank: number;
  /** Eigenvalues at or below this were treated as zero. */
  cutoff: number;
  rcond: number;
  /** `‖Au + g‖ / ‖g‖`: the part of g the cut-off left unexplained (0 when A has full rank). */
  residual: number;
  /** A had eigenvalues below −cutoff: the quadratic is unbounded below. */
  unbounded: boolean;
}

function coordinates(eig: Eigenbasis, g: ArrayLike<number>): Float64Array {
  return eig.toEigenbasis(g);
}

function fromCoordinates(eig: Eigenbasis, uh: Float64Array): Float64Array {
  return eig.fromEigenbasis(uh);
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** Value and KKT residual in eigen-coordinates: exact up to rounding. */
function assess(values: Float64Array, gh: Float64Array, uh: Float64Array, lambda: number) {
  let value = 0;
  let res = 0;
  for (let i = 0; i < uh.length; i++) {
    value += values[i] * uh[i] * uh[i] + 2 * gh[i] * uh[i];
    const r = (values[i] + lambda) * uh[i] + gh[i];
    res += r * r;
  }
  return { value, residual: Math.sqrt(res) };
}

export interface TrustRegionOptions {
  /** Relative tolerance deciding that an eigenvalue equals the lowest one, and that a component of g vanishes. Default 1e-10. */
  tolerance?: number;
}

export function solveTrustRegion(eig: Eigenbasis, g: ArrayLike<number>, radius: number, opts: TrustRegionOptions = {}): TrustRegionResult {
  const { n, values } = eig;
  if (!(radius >= 0)) throw new Error(`solveTrustRegion: radius must be ≥ 0, got ${radius}`);
  const tol = opts.tolerance ?? 1e-10;
  const gh = coordinates(eig, g);
  const gNorm = norm(gh);
  const scale = n > 0 ? Math.max(Math.abs(values[0]), Math.abs(values[n - 1]), 1e-300) : 1;
  const eigTol = tol * scale;
  const gTol = tol * Math.max(gNorm, 1e-300);
  const lambdaMin = n > 0 ? values[0] : 0;
  // Eigenvalues within rounding of zero count as zero: a PSD matrix stays PSD.
  const lo = lambdaMin < -eigTol ? -lambdaMin : 0;
  const uh = new Float64Array(n);
  const finish = (lambda: number, onBoundary: boolean, hardCase: boolean, iterations: number): TrustRegionResult => {
    const { value, residual } = assess(values, gh, uh, lambda);
    const u = fromCoordinates(eig, uh);
    const boundaryError = onBoundary && radius > 0 ? Math.abs(norm(uh) - radius) / radius : 0;
    return { u, value, lambda, onBoundary, hardCase, residual: residual / Math.max(gNorm, 1e-300), boundaryError, iterations };
  };
  if (n === 0 || gNorm === 0 && lambdaMin >= -eigTol) return finish(0, false, false, 0);
  if (radius === 0) return finish(Math.max(lo, gNorm), true, false, 0);

  // Eigenvalues equal to the lowest (where λ_i + lo vanishes): the hard-case subspace.
  const singular: boolean[] = Array.from(values, (v) => v + lo <= eigTol + (lo > 0 ? tol * lo : 0));
  const gSingular = Math.sqrt(gh.reduce((s, v, i) => (singular[i] ? s + v * v : s), 0));
  const restNorm = (lambda: number) => {
    let s = 0;
    for (let i = 0; i < n; i++) if (!singular[i]) s += (gh[i] / (values[i] + lambda)) ** 2;
    return Math.sqrt(s);
  };

  // Interior solution: A positive definite and the Newton point inside.
  if (lambdaMin > eigTol) {
    let s = 0;
    for (let i = 0; i < n; i++) { uh[i] = -gh[i] / values[i]; s += uh[i] * uh[i]; }
    if (Math.sqrt(s) <= radius) return finish(0, false, false, 0);
    uh.fill(0);
  }

  // Hard case: g (numerically) orthogonal to the lowest eigenspace and the rest falls short of r.
  if (gSingular <= gTol && restNorm(lo) <= radius) {
    for (let i = 0; i < n; i++) uh[i] = singular[i] ? 0 : -gh[i] / (values[i] + lo);
    if (lo === 0) return finish(0, false, true, 0); // PSD and singular: any null-space shift is optimal too
    const rest = norm(uh);
    uh[values.findIndex((_, i) => singular[i])] = Math.sqrt(Math.max(radius * radius - rest * rest, 0));
    return finish(lo, true, true, 0);
  }

  // Boundary solution: the root of ψ(λ) = 1/‖u(λ)‖ − 1/r on (lo, ∞), increasing and concave.
  const dropSingular = gSingular <= gTol;
  const evalPsi = (lambda: number) => {
    let s2 = 0;
    let s3 = 0;
    for (let i = 0; i < n; i++) {
      if (dropSingular && singular[i]) continue;
      const den = values[i] + lambda;
      const t = gh[i] / den;
      s2 += t * t;
      s3 += (t * t) / den;
    }
    const nu = Math.sqrt(s2);
    return { psi: 1 / nu - 1 / radius, dpsi: s3 / (nu * nu * nu), nu };
  };
  let a = lo;
  let b = lo + gNorm / radius + scale; // ‖u(b)‖ ≤ ‖g‖/(b − lo) < r
  let lambda = Math.max(lo + gNorm / radius - Math.max(lambdaMin, 0), lo + 1e-12 * scale);
  if (!(lambda > a && lambda < b)) lambda = (a + b) / 2;
  let iterations = 0;
  for (; iterations < 500; iterations++) {
    const { psi, dpsi, nu } = evalPsi(lambda);
    if (Math.abs(nu - radius) <= 1e-14 * radius) break;
    if (psi < 0) a = lambda; else b = lambda;
    let next = lambda - psi / dpsi;
    if (!(next > a && next < b) || !Number.isFinite(next)) next = a + (b - a) / 2;
    if (next === lambda || b - a <= 4e-16 * Math.max(Math.abs(b), 1e-300)) break;
    lambda = next;
  }
  for (let i = 0; i < n; i++) uh[i] = dropSingular && singular[i] ? 0 : -gh[i] / (values[i] + lambda);
  return finish(lambda, true, false, iterations);
}

/**
 * The least-norm minimiser `u = −A⁺g` with eigenvalues at or below `rcond · λ_max` treated as
 * zero. The default rcond, `max(n, 10) · 2⁻²³`, is numpy's matrix-rank rule for float32 data:
 * the per-round contributions to A are float32 products.
 */
export function leastNormMinimum(eig: Eigenbasis, g: ArrayLike<number>, rcond?: number): LeastNormResult {
  const { n, values } = eig;
  const rc = rcond ?? Math.max(n, 10) * 2 ** -23;
  const gh = coordinates(eig, g);
  const lmax = n > 0 ? Math.max(Math.abs(values[0]), Math.abs(values[n - 1])) : 0;
  const cutoff = rc * lmax;
  const uh = new Float64Array(n);
  let rank = 0;
  let left = 0;
  let unbounded = false;
  for (let i = 0; i < n; i++) {
    if (values[i] > cutoff) {
      uh[i] = -gh[i] / values[i];
      rank++;
    } else {
      if (values[i] < -cutoff) unbounded = true;
      left += gh[i] * gh[i];
    }
  }
  const { value } = assess(values, gh, uh, 0);
  return { u: fromCoordinates(eig, uh), value: unbounded ? -Infinity : value, rank, cutoff, rcond: rc, residual: Math.sqrt(left) / Math.max(norm(gh), 1e-300), unbounded };
}
