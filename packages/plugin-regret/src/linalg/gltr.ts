/**
 * The trust-region subproblem `min ½uᵀHu + gᵀu` over `‖u‖ ≤ r` with H symmetric and available
 * only through products `v ↦ Hv` (matrix-free): GLTR (Gould, Lucidi, Roma, Toint 1999).
 *
 * Lanczos tridiagonalises H on the Krylov space of g, `H Q_k = Q_k T_k + β_k q_{k+1} e_kᵀ`, with
 * full reorthogonalisation (the products come from float32 passes, so orthogonality would be lost
 * quickly otherwise). At every step the small problem `min ½hᵀT_k h + ‖g‖ e₁ᵀh`, `‖h‖ ≤ r` is
 * solved exactly (eigendecomposition of the tridiagonal plus a scalar root, `trust-region.ts`);
 * `u = Q_k h` then satisfies the first-order conditions up to one term, so the residual is known
 * without another product:
 *
 *   (H + λI)u + g = Q_k[(T_k + λI)h + ‖g‖e₁] + β_k h_k q_{k+1},
 *   ‖(H + λI)u + g‖ = sqrt(ρ_small² + (β_k h_k)²).
 *
 * Vectors and sums are float64 on the host; only the products may be less exact, which is why
 * callers verify the answer with one more, explicit, gradient evaluation. The vectors live in a
 * WebAssembly memory, where the reorthogonalisation's dot products and updates (most of a
 * solve's host time) run as SIMD kernels.
 */
import { kernelMemory, kernels, WASM_PAGE, type Kernels } from '../wasm/kernels.js';
import { solveTrustRegion } from './trust-region.js';
import { symmetricEigen } from './symmetric-eigen.js';

/** `Hv` (v is not modified; the result may be a fresh array the solver keeps). */
export type HessianProduct = (v: Float64Array) => Promise<Float64Array>;

export interface KrylovTrustRegionOptions {
  radius: number;
  /** Stop when ‖(H + λI)u + g‖ ≤ tolerance · ‖g‖ (Lanczos estimate). */
  tolerance: number;
  /** Lanczos steps (products with H) at most. */
  maxIterations: number;
  /** Bytes the float64 Lanczos vectors may take (default 1 GiB): caps the steps for very large n. */
  memoryBytes?: number;
  /** Solve with `H + shift·I` instead of H (a regularised Newton step); default 0. */
  shift?: number;
  /**
   * Called with the current solution each time the residual estimate first falls below the
   * tolerance and then below a quarter of its last value: 'accept' stops, 'continue' iterates on,
   * 'stop' gives up (e.g. rounding in the products dominates what more steps could fix).
   */
  verify?: (u: Float64Array, lambda: number, residual: number) => Promise<'accept' | 'continue' | 'stop'>;
}

export interface KrylovTrustRegionResult {
  u: Float64Array;
  /** Multiplier of the ball: `(H + shift·I + λI)u = −g` in the Krylov space. */
  lambda: number;
  onBoundary: boolean;
  hardCase: boolean;
  /** `½uᵀ(H + shift·I)u + gᵀu`, from the tridiagonal (no extra product). */
  model: number;
  /** Lanczos estimate of `‖(H + shift·I + λI)u + g‖ / ‖g‖`. */
  residual: number;
  /** Products with H used. */
  iterations: number;
  converged: boolean;
  /** The Krylov space became invariant (β ≈ 0): the answer is exact for the products as computed. */
  breakdown: boolean;
  /** Extreme Ritz values of H (+ shift) seen, for diagnostics. */
  ritz: [number, number];
  /** The residual estimate after each step (convergence history). */
  history: number[];
}

/** n-vectors in one WebAssembly memory (grown as they are taken), with the kernels' dot and axpy. */
class KernelVectors {
  private readonly memory: WebAssembly.Memory;
  private readonly wasm: Kernels;
  private used = 0;

  constructor(private readonly n: number, most: number) {
    const memory = kernelMemory(8 * n * 4, 8 * n * most);
    if (!memory) throw new Error(`krylovTrustRegion: ${n} parameters exceed a 32-bit WebAssembly memory`);
    this.memory = memory;
    this.wasm = kernels(memory);
  }

  /** A zeroed vector, or a copy of `from`. */
  take(from?: ArrayLike<number>): Float64Array {
    const bytes = 8 * this.n;
    const have = this.memory.buffer.byteLength;
    if (this.used + bytes > have) this.memory.grow(Math.ceil((this.used + bytes - have) / WASM_PAGE));
    const v = new Float64Array(this.memory.buffer, this.used, this.n);
    this.used += bytes;
    if (from) v.set(from);
    return v;
  }

  dot(a: Float64Array, b: Float64Array): number {
    return this.wasm.dot(a.byteOffset, b.byteOffset, this.n);
  }

  /** y ← y + a·x. */
  axpy(y: Float64Array, a: number, x: Float64Array): void {
    this.wasm.axpy(y.byteOffset, a, x.byteOffset, this.n);
  }
}

/** The small problem on T_k (dense copy; symmetricEigen skips its reduction on a tridiagonal). */
function solveTridiagonal(alpha: number[], beta: number[], b0: number, radius: number) {
  const k = alpha.length;
  const T = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    T[i * k + i] = alpha[i];
    if (i + 1 < k) { T[i * k + i + 1] = beta[i]; T[(i + 1) * k + i] = beta[i]; }
  }
  const eig = symmetricEigen(T, k);
  const b = new Float64Array(k);
  b[0] = b0;
  const tr = solveTrustRegion(eig, b, radius);
  return { ...tr, ritz: [eig.values[0], eig.values[k - 1]] as [number, number] };
}

export async function krylovTrustRegion(g: Float64Array, product: HessianProduct, opts: KrylovTrustRegionOptions): Promise<KrylovTrustRegionResult> {
  const n = g.length;
  const shift = opts.shift ?? 0;
  const r = opts.radius;
  // Q's vectors within the memory budget and a 32-bit memory (g, w and u besides them).
  const fit = Math.min(opts.memoryBytes ?? 2 ** 30, 2 ** 32 - 4 * WASM_PAGE - 3 * 8 * n);
  const steps = Math.min(opts.maxIterations, Math.max(1, Math.floor(fit / (8 * n))));
  const vectors = new KernelVectors(n, Math.min(steps, n) + 4);
  const dot = (a: Float64Array, b: Float64Array) => vectors.dot(a, b);
  const axpy = (y: Float64Array, a: number, x: Float64Array) => vectors.axpy(y, a, x);
  const gk = vectors.take(g);
  const b0 = Math.sqrt(dot(gk, gk));
  const empty = (converged: boolean): KrylovTrustRegionResult => ({
    u: new Float64Array(n), lambda: 0, onBoundary: r === 0, hardCase: false, model: 0, residual: b0 === 0 ? 0 : 1, iterations: 0,
    converged, breakdown: false, ritz: [NaN, NaN], history: [],
  });
  // A zero gradient makes u = 0 optimal (H ⪰ 0 here); a zero radius leaves a single feasible point.
  if (b0 === 0 || r === 0) return empty(true);
  const Q: Float64Array[] = [vectors.take(gk.map((x) => x / b0))];
  const alpha: number[] = [];
  const beta: number[] = [];
  let last: ReturnType<typeof solveTridiagonal> | null = null;
  let residual = 1;
  let breakdown = false;
  let tNorm = 0;
  const history: number[] = [];
  let check = opts.tolerance;
  let verdict: 'accept' | 'continue' | 'stop' | null = null;
  const u = vectors.take();
  const solution = () => {
    u.fill(0);
    for (let i = 0; i < last!.u.length; i++) axpy(u, last!.u[i], Q[i]);
    return u.slice();
  };
  for (let k = 0; k < steps; k++) {
    const q = Q[k];
    const w = vectors.take(await product(q));
    if (shift !== 0) axpy(w, shift, q);
    const a = dot(q, w);
    axpy(w, -a, q);
    if (k > 0) axpy(w, -beta[k - 1], Q[k - 1]);
    // Full reorthogonalisation, repeated once when it removed most of w ("twice is enough").
    for (let pass = 0; pass < 2; pass++) {
      const before = Math.sqrt(dot(w, w));
      for (const p of Q) axpy(w, -dot(p, w), p);
      if (Math.sqrt(dot(w, w)) > 0.5 * before) break;
    }
    alpha.push(a);
    const bk = Math.sqrt(dot(w, w));
    tNorm = Math.max(tNorm, Math.abs(a) + bk + (k > 0 ? beta[k - 1] : 0));
    last = solveTridiagonal(alpha, beta, b0, r);
    const tail = bk * Math.abs(last.u[k]);
    residual = Math.hypot(last.residual * b0, tail) / b0;
    history.push(residual);
    // β ≈ 0: Q spans an invariant subspace holding g, so the small solution is the solution.
    if (bk <= 1e-13 * tNorm) { breakdown = true; residual = last.residual; break; }
    if (residual <= check) {
      if (!opts.verify) break;
      verdict = await opts.verify(solution(), last.lambda, residual);
      if (verdict !== 'continue') break;
      check = residual / 4;
    }
    if (k + 1 === Math.min(steps, n)) break;
    beta.push(bk);
    for (let i = 0; i < n; i++) w[i] /= bk;
    Q.push(w);
  }
  if (!last) return empty(false);
  // A verifier that had its say decides; otherwise the estimate against the tolerance.
  const converged = verdict === 'accept' || verdict === 'stop' || (verdict === null && residual <= opts.tolerance) || breakdown;
  return {
    u: solution(), lambda: last.lambda, onBoundary: last.onBoundary, hardCase: last.hardCase, model: last.value / 2, residual,
    iterations: alpha.length, converged, breakdown, ritz: last.ritz, history,
  };
}
