// A generic reference minimiser for the hindsight problem over brute-force Jacobian tensors,
// in float64 JavaScript: projected gradient descent with Armijo backtracking, nothing shared with
// the plugin's solvers (no eigendecomposition, no L-BFGS, no statistics).

export interface BruteRound {
  /** `[B, pL, P]` for one problem. */
  G: Float64Array;
  f: Float64Array;
  y: Float64Array;
  vn: Float64Array;
  B: number;
  pL: number;
}

export type LossKind = 'mse' | 'ce';

/** Σ_n τ^n(v) and its gradient. */
export function bruteObjective(rounds: BruteRound[], P: number, kind: LossKind, v: Float64Array): { value: number; grad: Float64Array } {
  let value = 0;
  const grad = new Float64Array(P);
  for (const r of rounds) {
    const { B, pL } = r;
    for (let b = 0; b < B; b++) {
      const T = new Float64Array(pL);
      for (let k = 0; k < pL; k++) {
        let s = r.f[b * pL + k];
        const row = (b * pL + k) * P;
        for (let i = 0; i < P; i++) s += r.G[row + i] * (v[i] - r.vn[i]);
        T[k] = s;
      }
      const dT = new Float64Array(pL);
      if (kind === 'mse') {
        for (let k = 0; k < pL; k++) {
          const e = T[k] - r.y[b * pL + k];
          value += (e * e) / (B * pL);
          dT[k] = (2 * e) / (B * pL);
        }
      } else {
        const m = Math.max(...T);
        let z = 0;
        for (let k = 0; k < pL; k++) z += Math.exp(T[k] - m);
        const lse = m + Math.log(z);
        for (let k = 0; k < pL; k++) {
          value -= (r.y[b * pL + k] * (T[k] - lse)) / B;
          dT[k] = (Math.exp(T[k] - lse) * r.y.slice(b * pL, (b + 1) * pL).reduce((a, c) => a + c, 0) - r.y[b * pL + k]) / B;
        }
      }
      for (let k = 0; k < pL; k++) {
        const row = (b * pL + k) * P;
        for (let i = 0; i < P; i++) grad[i] += r.G[row + i] * dT[k];
      }
    }
  }
  return { value, grad };
}

function project(v: Float64Array, centre: Float64Array, radius: number): Float64Array {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += (v[i] - centre[i]) ** 2;
  n = Math.sqrt(n);
  if (n <= radius) return v;
  return v.map((x, i) => centre[i] + ((x - centre[i]) * radius) / n);
}

/** min over ‖v − centre‖ ≤ radius (Infinity: unconstrained) of Σ_n τ^n(v). */
export function bruteMinimum(rounds: BruteRound[], P: number, kind: LossKind, centre: Float64Array, radius: number, iterations = 20000): { value: number; v: Float64Array } {
  let v = Float64Array.from(centre);
  let { value, grad } = bruteObjective(rounds, P, kind, v);
  let step = 1;
  for (let it = 0; it < iterations; it++) {
    let accepted = false;
    for (let tries = 0; tries < 60; tries++) {
      const trial = project(v.map((x, i) => x - step * grad[i]), centre, radius);
      let dec = 0;
      for (let i = 0; i < P; i++) dec += grad[i] * (trial[i] - v[i]);
      const t = bruteObjective(rounds, P, kind, trial);
      if (t.value <= value + 1e-4 * dec) {
        const moved = Math.abs(t.value - value);
        if (moved <= 1e-13 * Math.max(1, Math.abs(value))) return { value: Math.min(value, t.value), v: t.value < value ? trial : v };
        v = trial;
        value = t.value;
        grad = t.grad;
        step *= 2;
        accepted = true;
        if (moved <= 1e-15 * Math.max(1, Math.abs(value))) return { value, v };
        break;
      }
      step /= 2;
    }
    if (!accepted) break;
  }
  return { value, v };
}
