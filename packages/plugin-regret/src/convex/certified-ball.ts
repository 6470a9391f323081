/**
 * Certified minimisation of a smooth convex F over the ball `‖u‖ ≤ r`, matrix-free:
 *  - F quadratic (squared error): one GLTR solve (`linalg/gltr.ts`) on `½uᵀHu + gᵀu`;
 *  - F convex, not quadratic (cross-entropy): regularised Newton. Each step minimises the exact
 *    second-order model plus `½μ‖w − u‖²` over the ball itself, which is again a trust-region
 *    subproblem centred at the origin (GLTR with `H + μI`), so iterates never leave K and no
 *    projection is needed; μ follows the ratio of actual to predicted decrease (Levenberg–Marquardt),
 *    and falls to 0 near the solution, where the steps are Newton steps (fast local convergence).
 *
 * Either way the answer is checked by one more explicit gradient evaluation `G = ∇F(u)`, and the
 * certificate is computed from it (not from the solver's own estimates):
 *  - KKT residual `‖G + λu‖ / ‖∇F(0)‖`, with `λ = max(0, −⟨G, u⟩/‖u‖²)` on the boundary
 *    (‖u‖ ≥ r(1 − 1e-9)) and 0 inside: u feasible, λ ≥ 0 and λ(r − ‖u‖) ≈ 0 by construction;
 *  - Frank–Wolfe gap `⟨G, u⟩ + r‖G‖ ≥ F(u) − min F` (convexity): a bound on the error of the value.
 * A solution is certified when the KKT residual is ≤ tolerance. The gap is reported with it but
 * does not gate: on the boundary it is second order in the residual (tiny), inside it is about
 * 2r‖G‖, which is what an unseen direction of tiny curvature could still gain (a worst case that
 * no first-order certificate can rule out), so for interior minimisers of large balls it is loose.
 */
import { dot, norm2 } from './ball.js';
import { krylovTrustRegion } from '../linalg/gltr.js';

export interface SmoothConvexProblem {
  readonly P: number;
  /** Hessian products so far. */
  readonly products: number;
  /** F(u) and ∇F(u); `curvatureHere` moves the Hessian used by `hessian` to u. */
  gradient(u: Float64Array, curvatureHere?: boolean): Promise<{ value: number; grad: Float64Array }>;
  /** ∇²F · v at the curvature point. */
  hessian(v: Float64Array): Promise<Float64Array>;
}

export interface CertifiedOptions {
  /** KKT residual relative to ‖∇F(0)‖. */
  tolerance: number;
  /** Values are float32 sums: |F| below this counts as this (decreases below 2⁻²¹|F| are rounding). */
  absoluteTolerance?: number;
  /** Lanczos steps (Hessian products) per trust-region solve. */
  krylovIterations: number;
  /** Newton steps (non-quadratic F). */
  maxIterations: number;
}

export interface Certificate {
  /** `‖∇F(u) + λu‖ / ‖∇F(0)‖`. */
  residual: number;
  /** Frank–Wolfe gap: an upper bound on `F(u) − min F`. */
  gap: number;
  lambda: number;
  onBoundary: boolean;
  gradientNorm: number;
}

export interface CertifiedSolution extends Certificate {
  u: Float64Array;
  /** F(u), evaluated directly. */
  value: number;
  /** The solver stopped on its tolerance (not on iterations or a stall); here the same as `certified`. */
  converged: boolean;
  /** The explicit certificate meets both tolerances. */
  certified: boolean;
  stop: 'converged' | 'iterations' | 'stalled';
  /** Krylov steps (quadratic) or Newton steps. */
  iterations: number;
  /** Hessian products in all. */
  products: number;
  /** The last GLTR solve's own residual estimate (relative to its right-hand side). */
  krylovResidual: number;
  /** `F(0) + ½uᵀHu + gᵀu` from the Krylov model (quadratic only): agrees with `value` up to float32 rounding. */
  modelValue?: number;
}

const BOUNDARY = 1e-9;

export function certify(u: Float64Array, G: Float64Array, radius: number, scale: number): Certificate {
  const nu = norm2(u);
  const gu = dot(G, u);
  const onBoundary = Number.isFinite(radius) && nu >= radius * (1 - BOUNDARY) && nu > 0;
  const lambda = onBoundary ? Math.max(0, -gu / (nu * nu)) : 0;
  let res = 0;
  for (let i = 0; i < u.length; i++) res += (G[i] + lambda * u[i]) ** 2;
  const gn = norm2(G);
  const gap = Number.isFinite(radius) ? Math.max(0, gu + radius * gn) : NaN;
  return { residual: Math.sqrt(res) / (scale > 0 ? scale : 1), gap, lambda, onBoundary, gradientNorm: gn };
}

function meets(c: Certificate, o: CertifiedOptions): boolean {
  return c.residual <= o.tolerance;
}

/**
 * min over the ball of a quadratic F: GLTR, checked explicitly whenever its own residual estimate
 * reaches the tolerance (then a quarter of that, …) until the explicit certificate holds. When the
 * explicit residual stays far above the estimate, float32 rounding in the products dominates and
 * more Lanczos steps cannot help: the solve stops there, uncertified.
 */
export async function solveQuadraticOverBall(problem: SmoothConvexProblem, radius: number, o: CertifiedOptions): Promise<CertifiedSolution> {
  const zero = new Float64Array(problem.P);
  const at0 = await problem.gradient(zero);
  const scale = norm2(at0.grad);
  type Check = { at: { value: number; grad: Float64Array }; cert: Certificate; ok: boolean; products: number };
  const checks: Check[] = [];
  const tr = await krylovTrustRegion(at0.grad, (v) => problem.hessian(v), {
    radius, tolerance: o.tolerance, maxIterations: o.krylovIterations,
    verify: async (u, _lambda, estimate) => {
      const at = await problem.gradient(u);
      const cert = certify(u, at.grad, radius, scale);
      const check = { at, cert, ok: meets(cert, o), products: problem.products };
      checks.push(check);
      // Far above the estimate: rounding in the products, not the Krylov space, limits the residual.
      return check.ok ? 'accept' : cert.residual > 100 * estimate ? 'stop' : 'continue';
    },
  });
  // The last check is of the returned u when no product came after it; otherwise check that u now.
  const last = checks.at(-1);
  const final = last && last.products === problem.products ? last : await (async () => {
    const at = tr.iterations > 0 ? await problem.gradient(tr.u) : at0;
    const cert = certify(tr.u, at.grad, radius, scale);
    return { at, cert, ok: meets(cert, o) };
  })();
  const cert = radius === 0 ? { ...final.cert, residual: 0, gap: 0 } : final.cert;
  const certified = radius === 0 || (tr.converged && final.ok);
  // GLTR done (its estimate met, or the space exhausted) but the explicit check short: float32 rounding.
  const stop = certified ? 'converged' : tr.converged ? 'stalled' : 'iterations';
  return {
    ...cert, u: tr.u, value: final.at.value, converged: certified, certified, stop,
    iterations: tr.iterations, products: tr.iterations, krylovResidual: tr.residual, modelValue: at0.value + tr.model,
  };
}

/** min over the ball of a smooth convex F (exact Hessian products), from `start` (projected). */
export async function newtonOverBall(problem: SmoothConvexProblem, radius: number, start: Float64Array, o: CertifiedOptions): Promise<CertifiedSolution> {
  const P = problem.P;
  let u: Float64Array = Float64Array.from(start);
  const n0 = norm2(u);
  if (n0 > radius) u = u.map((x) => (x * radius) / n0);
  const warm = norm2(u) > 0;
  const at0 = await problem.gradient(new Float64Array(P), !warm);
  const scale = norm2(at0.grad);
  let cur = warm ? await problem.gradient(u, true) : at0;
  if (warm && cur.value > at0.value) { u = new Float64Array(P); cur = await problem.gradient(u, true); }
  let products = 0;
  let mu = 0;
  let muFloor = 0;
  let krylovResidual = NaN;
  let iterations = 0;
  let flat = 0;
  let stop: CertifiedSolution['stop'] = 'iterations';
  // Values are float32 sums: decreases below this are rounding.
  const noise = () => 4 * 2 ** -23 * Math.max(Math.abs(cur.value), o.absoluteTolerance ?? 1e-12);
  for (; ; iterations++) {
    const cert = certify(u, cur.grad, radius, scale);
    if (radius === 0 || meets(cert, o)) { stop = 'converged'; break; }
    if (iterations >= o.maxIterations) break;
    // Linear term of the model about the origin: b = G − (H + μI)u.
    const Hu = norm2(u) > 0 ? await problem.hessian(u) : new Float64Array(P);
    if (norm2(u) > 0) products++;
    const b = cur.grad.map((g, i) => g - Hu[i] - mu * u[i]);
    const uHu = dot(u, Hu) + mu * dot(u, u);
    // Inexact Newton: the inner residual shrinks with the outer one (superlinear), never below tolerance/10.
    const target = Math.max(0.1 * o.tolerance, Math.min(0.5, Math.sqrt(cert.residual)) * cert.residual) * scale;
    const bn = norm2(b);
    const tr = await krylovTrustRegion(b, (v) => problem.hessian(v), {
      radius, tolerance: bn > 0 ? Math.min(0.1, target / bn) : 0.1, maxIterations: o.krylovIterations, shift: mu,
    });
    products += tr.iterations;
    krylovResidual = tr.residual;
    // Model decrease m(u) − m(w), m(x) = ½xᵀ(H + μI)x + bᵀx; m(u) = Gᵀu − ½uᵀ(H + μI)u.
    const predicted = dot(cur.grad, u) - 0.5 * uHu - tr.model;
    const trial = await problem.gradient(tr.u, true);
    const actual = cur.value - trial.value;
    const tiny = predicted <= noise();
    const accept = Number.isFinite(trial.value) && (tiny ? actual >= -noise() : actual >= 1e-4 * predicted);
    if (accept) {
      // Steps the float32 values cannot resolve: a few in a row and nothing is left to gain.
      flat = tiny ? flat + 1 : 0;
      if (flat > 3) { stop = 'stalled'; break; }
      const ratio = tiny ? 1 : actual / predicted;
      u = tr.u;
      cur = trial;
      if (ratio > 0.75) mu = mu / 4 < muFloor * 1e-6 ? 0 : mu / 4;
      else if (ratio < 0.25) mu = Math.max(4 * mu, muFloor);
      continue;
    }
    // Rejected: more damping, and the curvature back at u.
    muFloor = muFloor || 1e-3 * Math.max(Math.abs(tr.ritz[1]), 1e-300);
    mu = Math.max(4 * mu, muFloor);
    if (mu > 1e12 * muFloor) { stop = 'stalled'; break; }
    cur = await problem.gradient(u, true);
  }
  const cert = certify(u, cur.grad, radius, scale);
  const final = radius === 0 ? { ...cert, residual: 0, gap: 0 } : cert;
  return {
    ...final, u, value: cur.value, converged: stop === 'converged', certified: stop === 'converged' && (radius === 0 || meets(final, o)),
    stop, iterations, products, krylovResidual,
  };
}
