/**
 * Projected L-BFGS for K independent convex problems `min F_k(u)` over balls `‖u‖ ≤ r_k`, run in
 * lockstep so that one batched evaluation (one pass over the stored rounds) serves all of them.
 * Each problem keeps its own curvature pairs and line search. A step projects the quasi-Newton
 * point onto the ball and backtracks along that arc until Armijo holds; when the projected
 * quasi-Newton step is not a descent direction the memory is dropped and a scaled projected
 * gradient step is taken, which keeps the method convergent on convex problems.
 *
 * Convergence is certified by the Frank–Wolfe gap `⟨∇F, u⟩ + r‖∇F‖ ≥ F(u) − min F`.
 */
import { dot, frankWolfeGap, norm2, projectOntoBall } from './ball.js';

export interface BatchEvaluation {
  values: ArrayLike<number>;
  grads: Float64Array[];
}

/** Values and gradients of all K objectives at the given points (one per problem). */
export type BatchEvaluator = (points: readonly Float64Array[]) => Promise<BatchEvaluation>;

export interface BallSolverOptions {
  /** Outer iterations (accepted steps) per problem; default 200. */
  maxIterations?: number;
  /** Curvature pairs kept; default 10. */
  memory?: number;
  /** Stop when the Frank–Wolfe gap ≤ gapTolerance · max(|F|, absoluteTolerance); default 1e-7. */
  gapTolerance?: number;
  /**
   * Or when the projected gradient has shrunk by this factor from the start (the Frank–Wolfe gap
   * is loose for interior minimisers of large balls); default 1e-9.
   */
  gradientTolerance?: number;
  absoluteTolerance?: number;
}

export interface BallSolution {
  u: Float64Array;
  value: number;
  /** Frank–Wolfe gap: an upper bound on `value − min`. */
  gap: number;
  /** `‖u − P(u − ∇F)‖`. */
  projectedGradientNorm: number;
  gradientNorm: number;
  iterations: number;
  converged: boolean;
  /** Why it stopped: 'converged', 'stalled' (no decrease possible at float precision) or 'iterations'. */
  stop: 'converged' | 'stalled' | 'iterations';
  onBoundary: boolean;
}

interface State {
  x: Float64Array;
  f: number;
  g: Float64Array;
  S: Float64Array[];
  Y: Float64Array[];
  d: Float64Array;
  t: number;
  trial: Float64Array;
  done: 'gap' | 'stalled' | 'iterations' | null;
  iterations: number;
  steepest: boolean;
  /** Consecutive accepted steps whose decrease was below the evaluation's float32 resolution. */
  flat: number;
}

const ARMIJO = 1e-4;

function twoLoop(g: Float64Array, S: Float64Array[], Y: Float64Array[]): Float64Array {
  const q = Float64Array.from(g);
  const m = S.length;
  const alpha = new Float64Array(m);
  for (let i = m - 1; i >= 0; i--) {
    const rho = 1 / dot(Y[i], S[i]);
    alpha[i] = rho * dot(S[i], q);
    for (let k = 0; k < q.length; k++) q[k] -= alpha[i] * Y[i][k];
  }
  if (m > 0) {
    const gamma = dot(S[m - 1], Y[m - 1]) / dot(Y[m - 1], Y[m - 1]);
    for (let k = 0; k < q.length; k++) q[k] *= gamma;
  }
  for (let i = 0; i < m; i++) {
    const rho = 1 / dot(Y[i], S[i]);
    const beta = rho * dot(Y[i], q);
    for (let k = 0; k < q.length; k++) q[k] += S[i][k] * (alpha[i] - beta);
  }
  for (let k = 0; k < q.length; k++) q[k] = -q[k];
  return q;
}

function projectedGradientNorm(x: Float64Array, g: Float64Array, r: number): number {
  const p = projectOntoBall(Float64Array.from(x, (v, i) => v - g[i]), r);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] - p[i]) ** 2;
  return Math.sqrt(s);
}

export async function minimizeOverBalls(start: readonly Float64Array[], radii: readonly number[], evaluate: BatchEvaluator,
  opts: BallSolverOptions = {}): Promise<BallSolution[]> {
  const maxIter = opts.maxIterations ?? 200;
  const mem = opts.memory ?? 10;
  const gapTol = opts.gapTolerance ?? 1e-7;
  const absTol = opts.absoluteTolerance ?? 1e-12;
  const gradTol = opts.gradientTolerance ?? 1e-9;
  const K = start.length;
  const xs = start.map((x, k) => projectOntoBall(Float64Array.from(x), radii[k]));
  const first = await evaluate(xs);
  const states: State[] = xs.map((x, k) => ({
    x, f: first.values[k], g: Float64Array.from(first.grads[k]), S: [], Y: [], d: new Float64Array(x.length), t: 1,
    trial: x, done: null, iterations: 0, steepest: true, flat: 0,
  }));

  const gapOf = (s: State, k: number) => (Number.isFinite(radii[k]) ? frankWolfeGap(s.x, s.g, radii[k]) : Infinity);
  const pg0 = states.map((s, k) => projectedGradientNorm(s.x, s.g, radii[k]));
  const converged = (s: State, k: number) => gapOf(s, k) <= gapTol * Math.max(Math.abs(s.f), absTol)
    || projectedGradientNorm(s.x, s.g, radii[k]) <= gradTol * Math.max(pg0[k], 1e-300);

  /** A new direction from x; falls back to a scaled steepest-descent step. */
  const plan = (s: State, k: number) => {
    const r = radii[k];
    s.steepest = s.S.length === 0;
    s.d = s.steepest ? Float64Array.from(s.g, (v) => -v) : twoLoop(s.g, s.S, s.Y);
    if (s.steepest) {
      // First step: at most the ball's radius (or unit length when unbounded).
      const gn = norm2(s.g);
      const len = Number.isFinite(r) && r > 0 ? r : 1;
      const scale = gn > 0 ? Math.min(1, len / gn) : 0;
      for (let i = 0; i < s.d.length; i++) s.d[i] *= scale;
    }
    s.t = 1;
    s.trial = projectOntoBall(Float64Array.from(s.x, (v, i) => v + s.d[i]), r);
    if (!s.steepest && dot(s.g, s.trial.map((v, i) => v - s.x[i])) >= 0) {
      s.S = [];
      s.Y = [];
      plan(s, k);
    }
  };

  for (let k = 0; k < K; k++) {
    const s = states[k];
    if (converged(s, k)) s.done = 'gap';
    else plan(s, k);
  }

  for (let round = 0; round < maxIter * 40 && states.some((s) => !s.done); round++) {
    const ev = await evaluate(states.map((s) => (s.done ? s.x : s.trial)));
    for (let k = 0; k < K; k++) {
      const s = states[k];
      if (s.done) continue;
      const fT = ev.values[k];
      const step = s.trial.map((v, i) => v - s.x[i]);
      const decrease = dot(s.g, step);
      if (Number.isFinite(fT) && fT <= s.f + ARMIJO * decrease) {
        const gT = Float64Array.from(ev.grads[k]);
        const y = gT.map((v, i) => v - s.g[i]);
        const sy = dot(step, y);
        if (sy > 1e-12 * norm2(step) * norm2(y)) {
          s.S.push(step);
          s.Y.push(y);
          if (s.S.length > mem) { s.S.shift(); s.Y.shift(); }
        }
        // Objectives are summed from float32 evaluations: decreases below their resolution are noise.
        s.flat = s.f - fT <= 2 ** -23 * Math.max(Math.abs(s.f), absTol) ? s.flat + 1 : 0;
        s.x = s.trial;
        s.f = fT;
        s.g = gT;
        s.iterations++;
        if (converged(s, k)) s.done = 'gap';
        else if (s.flat >= 5) s.done = 'stalled';
        else if (s.iterations >= maxIter) s.done = 'iterations';
        else plan(s, k);
        continue;
      }
      // Backtrack along the projection arc.
      s.t *= 0.5;
      const tooSmall = s.t < 1e-20 || norm2(step) <= 1e-15 * Math.max(norm2(s.x), 1e-300);
      if (tooSmall) {
        if (!s.steepest) { s.S = []; s.Y = []; plan(s, k); } else s.done = 'stalled';
        continue;
      }
      s.trial = projectOntoBall(Float64Array.from(s.x, (v, i) => v + s.t * s.d[i]), radii[k]);
    }
  }

  return states.map((s, k) => {
    const gap = gapOf(s, k);
    const ok = converged(s, k);
    return {
      u: s.x,
      value: s.f,
      gap: Number.isFinite(radii[k]) ? Math.max(gap, 0) : NaN,
      projectedGradientNorm: projectedGradientNorm(s.x, s.g, radii[k]),
      gradientNorm: norm2(s.g),
      iterations: s.iterations,
      converged: ok,
      stop: ok ? 'converged' : s.done === 'stalled' ? 'stalled' : 'iterations',
      onBoundary: Number.isFinite(radii[k]) && norm2(s.x) >= radii[k] * (1 - 1e-9),
    };
  });
}
