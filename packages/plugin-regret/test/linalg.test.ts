import { describe, expect, it } from 'vitest';
import { SeededRandom } from '@taylorlens/core';
import { leastNormMinimum, minimizeOverBalls, solveTrustRegion, symmetricEigen } from '@taylorlens/plugin-regret';

function gaussian(rng: SeededRandom): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

function randomOrthogonal(n: number, rng: SeededRandom): Float64Array[] {
  const Q: Float64Array[] = [];
  while (Q.length < n) {
    const v = Float64Array.from({ length: n }, () => gaussian(rng));
    for (const q of Q) { const d = q.reduce((s, x, i) => s + x * v[i], 0); for (let i = 0; i < n; i++) v[i] -= d * q[i]; }
    const nv = Math.hypot(...v);
    Q.push(v.map((x) => x / nv));
  }
  return Q;
}

/** A = Σ λ_i q_i q_iᵀ. */
function fromSpectrum(lams: number[], Q: Float64Array[]): Float64Array {
  const n = lams.length;
  const A = new Float64Array(n * n);
  for (let k = 0; k < n; k++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] += lams[k] * Q[k][i] * Q[k][j];
  return A;
}

const quad = (A: Float64Array, g: ArrayLike<number>, u: ArrayLike<number>) => {
  const n = g.length;
  let v = 0;
  for (let i = 0; i < n; i++) { v += 2 * g[i] * u[i]; for (let j = 0; j < n; j++) v += u[i] * A[i * n + j] * u[j]; }
  return v;
};

/** Brute force over the disk (2-D): a fine polar grid plus the origin. */
function bruteDisk(A: Float64Array, g: number[], r: number): number {
  let best = 0;
  for (let i = 1; i <= 400; i++) {
    const rho = (r * i) / 400;
    for (let k = 0; k < 720; k++) {
      const th = (2 * Math.PI * k) / 720;
      best = Math.min(best, quad(A, g, [rho * Math.cos(th), rho * Math.sin(th)]));
    }
  }
  return best;
}

/** A generic method: projected gradient descent from many random starts in the ball. */
function brutePgd(A: Float64Array, g: Float64Array, r: number, rng: SeededRandom): number {
  const n = g.length;
  let lmax = 0;
  for (let i = 0; i < n; i++) { let s = 0; for (let j = 0; j < n; j++) s += Math.abs(A[i * n + j]); lmax = Math.max(lmax, s); }
  const step = 1 / (2 * lmax + 1e-12);
  let best = Infinity;
  for (let start = 0; start < 30; start++) {
    let u = Float64Array.from({ length: n }, () => gaussian(rng));
    const nu = Math.hypot(...u);
    u = u.map((x) => (x / nu) * r * rng.next());
    for (let it = 0; it < 4000; it++) {
      const grad = new Float64Array(n);
      for (let i = 0; i < n; i++) { let s = g[i]; for (let j = 0; j < n; j++) s += A[i * n + j] * u[j]; grad[i] = 2 * s; }
      u = u.map((x, i) => x - step * grad[i]);
      const nn = Math.hypot(...u);
      if (nn > r) u = u.map((x) => (x * r) / nn);
    }
    best = Math.min(best, quad(A, g, u));
  }
  return best;
}

describe('symmetric eigendecomposition', () => {
  it('reconstructs random symmetric matrices with orthonormal vectors, ascending values', () => {
    const rng = new SeededRandom(3);
    for (const n of [1, 2, 5, 17, 40]) {
      const A = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = gaussian(rng);
      const eig = symmetricEigen(A, n);
      const { values } = eig;
      const vectors = eig.vectors();
      for (let i = 1; i < n; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]);
      let err = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        let s = 0;
        let o = 0;
        for (let k = 0; k < n; k++) { s += values[k] * vectors[k * n + i] * vectors[k * n + j]; o += vectors[i * n + k] * vectors[j * n + k]; }
        err = Math.max(err, Math.abs(s - A[i * n + j]), Math.abs(o - (i === j ? 1 : 0)));
      }
      expect(err).toBeLessThan(1e-12 * n);
    }
  });
});

describe('exact trust-region subproblem', () => {
  it('matches a fine polar grid on random 2-D problems (definite, indefinite, hard case)', () => {
    const rng = new SeededRandom(5);
    for (let trial = 0; trial < 12; trial++) {
      const Q = randomOrthogonal(2, rng);
      const kind = trial % 3;
      const lams = kind === 0 ? [0.5 + rng.next(), 1 + 2 * rng.next()] : [-1 - rng.next(), 0.5 + rng.next()];
      const A = fromSpectrum(lams, Q);
      // Hard case: g orthogonal to the lowest eigenvector and small.
      const g = kind === 2 ? Array.from(Q[1], (v) => 0.1 * v) : [gaussian(rng), gaussian(rng)];
      const r = 0.5 + rng.next();
      const res = solveTrustRegion(symmetricEigen(A, 2), g, r);
      expect(res.hardCase).toBe(kind === 2);
      expect(Math.hypot(...res.u)).toBeLessThanOrEqual(r * (1 + 1e-12));
      expect(Math.abs(quad(A, g, res.u) - res.value)).toBeLessThan(1e-12);
      const brute = bruteDisk(A, g, r);
      expect(res.value).toBeLessThanOrEqual(brute + 1e-12);
      expect(brute - res.value).toBeLessThan(1e-3);
      expect(res.residual).toBeLessThan(1e-10);
    }
  });

  it('matches multi-start projected gradient descent and the KKT conditions on random n-D problems', () => {
    const rng = new SeededRandom(9);
    for (let trial = 0; trial < 10; trial++) {
      const n = 3 + (trial % 4);
      const Q = randomOrthogonal(n, rng);
      const indefinite = trial % 2 === 1;
      const hard = trial % 5 === 4;
      const lams = Array.from({ length: n }, (_, i) => (indefinite && i === 0 ? -2 : 0.1 + 3 * rng.next())).sort((a, b) => a - b);
      const A = fromSpectrum(lams, Q);
      const g = new Float64Array(n);
      for (let k = hard ? 1 : 0; k < n; k++) { const c = (hard ? 0.05 : 1) * gaussian(rng); for (let i = 0; i < n; i++) g[i] += c * Q[k][i]; }
      const r = 0.3 + 2 * rng.next();
      const res = solveTrustRegion(symmetricEigen(A, n), g, r);
      const nu = Math.hypot(...res.u);
      expect(nu).toBeLessThanOrEqual(r * (1 + 1e-12));
      // KKT: (A + λI)u = −g, λ ≥ 0, λ ≥ −λ_min, complementarity.
      for (let i = 0; i < n; i++) {
        let s = g[i] + res.lambda * res.u[i];
        for (let j = 0; j < n; j++) s += A[i * n + j] * res.u[j];
        expect(Math.abs(s)).toBeLessThan(1e-9);
      }
      expect(res.lambda).toBeGreaterThanOrEqual(Math.max(0, -lams[0]) - 1e-12);
      if (res.lambda > 1e-12) expect(Math.abs(nu - r)).toBeLessThan(1e-9);
      const brute = brutePgd(A, g, r, rng);
      expect(res.value).toBeLessThanOrEqual(brute + 1e-9);
      expect(brute - res.value).toBeLessThan(1e-6);
    }
  });

  it('hard case of a singular PSD quadratic: λ = 0, least-norm interior point', () => {
    const rng = new SeededRandom(2);
    const Q = randomOrthogonal(4, rng);
    const A = fromSpectrum([0, 0, 1, 3], Q);
    const g = Float64Array.from(Q[2], (v, i) => 0.5 * v + 0.2 * Q[3][i]);
    const res = solveTrustRegion(symmetricEigen(A, 4), g, 10);
    expect(res.hardCase).toBe(true);
    expect(res.lambda).toBe(0);
    expect(res.value).toBeCloseTo(-(0.25 / 1 + 0.04 / 3), 12);
  });

  it('least-norm unconstrained minimum drops the null space and reports the rank', () => {
    const rng = new SeededRandom(4);
    const Q = randomOrthogonal(5, rng);
    const A = fromSpectrum([1e-20, 0, 2, 5, 7], Q);
    const g = new Float64Array(5);
    for (let k = 0; k < 5; k++) for (let i = 0; i < 5; i++) g[i] += (k + 1) * Q[k][i];
    const res = leastNormMinimum(symmetricEigen(A, 5), g);
    expect(res.rank).toBe(3);
    expect(res.value).toBeCloseTo(-(9 / 2 + 16 / 5 + 25 / 7), 10);
    // u has no component in the cut-off space
    expect(Math.abs(Q[0].reduce((s, v, i) => s + v * res.u[i], 0))).toBeLessThan(1e-12);
    expect(res.residual).toBeCloseTo(Math.sqrt(5) / Math.sqrt(55), 10);
  });
});

describe('projected L-BFGS over balls', () => {
  it('solves K independent convex problems: quadratics, against the exact trust-region solver', async () => {
    const rng = new SeededRandom(11);
    const n = 6;
    const probs = Array.from({ length: 4 }, (_, k) => {
      const Q = randomOrthogonal(n, rng);
      const A = fromSpectrum(Array.from({ length: n }, () => 0.01 + 5 * rng.next()), Q);
      const g = Float64Array.from({ length: n }, () => 3 * gaussian(rng));
      return { A, g, r: k === 0 ? 100 : 0.2 + rng.next() };
    });
    const evaluate = async (xs: readonly Float64Array[]) => ({
      values: xs.map((x, k) => quad(probs[k].A, probs[k].g, x)),
      grads: xs.map((x, k) => {
        const { A, g } = probs[k];
        return Float64Array.from(g, (gi, i) => { let s = gi; for (let j = 0; j < n; j++) s += A[i * n + j] * x[j]; return 2 * s; });
      }),
    });
    const sols = await minimizeOverBalls(probs.map(() => new Float64Array(n)), probs.map((p) => p.r), evaluate, { gapTolerance: 1e-10 });
    sols.forEach((s, k) => {
      const exact = solveTrustRegion(symmetricEigen(probs[k].A, n), probs[k].g, probs[k].r);
      expect(s.converged).toBe(true);
      expect(s.value - exact.value).toBeGreaterThanOrEqual(-1e-9);
      expect(s.value - exact.value).toBeLessThanOrEqual(s.gap + 1e-12); // the gap certifies
      expect(s.value - exact.value).toBeLessThan(1e-6);
    });
  });
});

describe('symmetricEigen on rank-deficient statistics with tiny entries', () => {
  it('no NaN where columns hold only tiny values (their squares underflow), and QΛQᵀ = A', () => {
    // Gram matrices of rows scaled down by 10^-160 … 10^-440 next to rows of size 1: the shape of
    // one round's statistics with dead units. The tridiagonalisation used to divide by an underflowed 0.
    for (let seed = 1; seed < 200; seed++) {
      let s = seed;
      const rnd = () => { s = (s * 16807) % 2147483647; return s / 2147483647 - 0.5; };
      const n = 8;
      const M: number[] = [];
      for (let i = 0; i < n; i++) {
        const scale = 10 ** (-Math.floor(rnd() * 8 + 4) * 40);
        for (let j = 0; j < 3; j++) M.push(rnd() * (i < 2 ? 1 : scale));
      }
      const A = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < 3; k++) A[i * n + j] += M[i * 3 + k] * M[j * 3 + k];
      const eig = symmetricEigen(A, n);
      expect(Array.from(eig.values).every(Number.isFinite)).toBe(true);
      const top = Math.max(...Array.from(A, Math.abs));
      for (let j = 0; j < n; j++) {
        const ej = new Float64Array(n);
        ej[j] = 1;
        const c = eig.toEigenbasis(ej);
        const back = eig.fromEigenbasis(c.map((v, i) => v * eig.values[i]));
        for (let i = 0; i < n; i++) expect(Math.abs(back[i] - A[i * n + j])).toBeLessThan(1e-13 * top);
      }
    }
  });
});
