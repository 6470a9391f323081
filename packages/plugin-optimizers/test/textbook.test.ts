// Each named optimizer against its textbook update equations, computed independently here in
// float64 on f(w) = ½ Σ aᵢ(wᵢ − bᵢ)², whose gradient is gᵢ = aᵢ(wᵢ − bᵢ).
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@taylorlens/core';
import {
  adagrad, adam, adamw, amsgrad, drawSeed, gaussianSamples, hashString, momentum, nesterov, noisySGD, rmsprop, rprop, sgd, signSGD,
  type TaylorOptimizer,
} from '@taylorlens/plugin-optimizers';
import { applyGradient, expectClose, freshVariable } from './helpers.js';

const A = [1, 2, 0.5, 3];
const B = [0.3, -0.7, 1.2, 0.1];
const W0 = [1, -1, 0.5, -0.4];
const STEPS = 5;
const gradient = (w: ArrayLike<number>) => Array.from(w, (wi, i) => A[i] * (wi - B[i]));
const zeros = () => W0.map(() => 0);

/** Our optimizer's weights after each of `STEPS` steps. */
function trajectory(optimizer: TaylorOptimizer<object>, name = 'textbook'): number[][] {
  const w = freshVariable(W0, name);
  const out: number[][] = [];
  for (let t = 0; t < STEPS; t++) {
    applyGradient(optimizer, w, gradient(w.dataSync()));
    out.push(Array.from(w.dataSync()));
  }
  optimizer.dispose();
  w.dispose();
  return out;
}

/** The reference: `update(w, g, t)` mutates w in place (t = 1, 2, ...); returns w after each step. */
function reference(update: (w: number[], g: number[], t: number) => void): number[][] {
  const w = [...W0];
  const out: number[][] = [];
  for (let t = 1; t <= STEPS; t++) {
    update(w, gradient(w), t);
    out.push([...w]);
  }
  return out;
}

function expectTrajectory(ours: number[][], expected: number[][], tolerance = { rtol: 2e-5, atol: 2e-6 }): void {
  expected.forEach((w, t) => expectClose(ours[t], w, tolerance));
}

describe.each(['cpu', 'wasm'])('named optimizers follow their textbook equations (float64 reference, 5 steps) on %s', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
  });

  it('sgd: w ← w − η·g', () => {
    const lr = 0.1;
    expectTrajectory(trajectory(sgd({ learningRate: lr })), reference((w, g) => {
      for (let i = 0; i < w.length; i++) w[i] -= lr * g[i];
    }));
  });

  it('momentum: m ← βm + g, w ← w − η·m', () => {
    const [lr, beta] = [0.1, 0.9];
    const m = zeros();
    expectTrajectory(trajectory(momentum({ learningRate: lr, momentum: beta })), reference((w, g) => {
      for (let i = 0; i < w.length; i++) {
        m[i] = beta * m[i] + g[i];
        w[i] -= lr * m[i];
      }
    }));
  });

  it('nesterov: m ← βm + g, w ← w − η·(g + βm)', () => {
    const [lr, beta] = [0.1, 0.9];
    const m = zeros();
    expectTrajectory(trajectory(nesterov({ learningRate: lr, momentum: beta })), reference((w, g) => {
      for (let i = 0; i < w.length; i++) {
        m[i] = beta * m[i] + g[i];
        w[i] -= lr * (g[i] + beta * m[i]);
      }
    }));
  });

  it('adagrad: a ← a + g², w ← w − η·g/√(a + ε), a₀ = 0.1', () => {
    const [lr, eps] = [0.1, 1e-7];
    const acc = W0.map(() => 0.1);
    expectTrajectory(trajectory(adagrad({ learningRate: lr })), reference((w, g) => {
      for (let i = 0; i < w.length; i++) {
        acc[i] += g[i] * g[i];
        w[i] -= (lr * g[i]) / Math.sqrt(acc[i] + eps);
      }
    }));
  });

  it('rmsprop with momentum: s ← ρs + (1−ρ)g², m ← μm + g/√(s + ε), w ← w − η·m', () => {
    const [lr, rho, mu, eps] = [0.01, 0.9, 0.5, 1e-7];
    const s = zeros();
    const m = zeros();
    expectTrajectory(trajectory(rmsprop({ learningRate: lr, decay: rho, momentum: mu })), reference((w, g) => {
      for (let i = 0; i < w.length; i++) {
        s[i] = rho * s[i] + (1 - rho) * g[i] * g[i];
        m[i] = mu * m[i] + g[i] / Math.sqrt(s[i] + eps);
        w[i] -= lr * m[i];
      }
    }));
  });

  it('centred rmsprop: ḡ ← ρḡ + (1−ρ)g, w ← w − η·g/√(s − ḡ² + ε)', () => {
    const [lr, rho, eps] = [0.01, 0.9, 1e-7];
    const s = zeros();
    const mean = zeros();
    expectTrajectory(trajectory(rmsprop({ learningRate: lr, decay: rho, centered: true })), reference((w, g) => {
      for (let i = 0; i < w.length; i++) {
        s[i] = rho * s[i] + (1 - rho) * g[i] * g[i];
        mean[i] = rho * mean[i] + (1 - rho) * g[i];
        w[i] -= (lr * g[i]) / Math.sqrt(s[i] - mean[i] * mean[i] + eps);
      }
    }), { rtol: 1e-4, atol: 1e-5 }); // s − ḡ² cancels: float32 loses digits there
  });

  /** Adam's moments and bias-corrected direction m̂/(√v̂ + ε); `secondMoment` picks v or max(v). */
  function adamReference(lr: number, b1: number, b2: number, eps: number, decay: number, amsgradMax: boolean) {
    const m = zeros();
    const v = zeros();
    const vMax = zeros();
    return reference((w, g, t) => {
      for (let i = 0; i < w.length; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        vMax[i] = Math.max(vMax[i], v[i]);
        const mHat = m[i] / (1 - b1 ** t);
        const vHat = (amsgradMax ? vMax[i] : v[i]) / (1 - b2 ** t);
        w[i] -= lr * (mHat / (Math.sqrt(vHat) + eps) + decay * w[i]);
      }
    });
  }

  it('adam: m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ), w ← w − η·m̂/(√v̂ + ε)', () => {
    expectTrajectory(trajectory(adam({ learningRate: 0.05, beta1: 0.8, beta2: 0.95 })), adamReference(0.05, 0.8, 0.95, 1e-7, 0, false));
  });

  it('adamw: w ← w − η·(m̂/(√v̂ + ε) + λw)', () => {
    expectTrajectory(trajectory(adamw({ learningRate: 0.05, weightDecay: 0.1 })), adamReference(0.05, 0.9, 0.999, 1e-7, 0.1, false));
  });

  it('amsgrad: v̂ from max(v_max, v), which differs from adam here', () => {
    // β₂ = 0.5 makes v follow the shrinking g², so the running max matters from step 2 on.
    const expected = adamReference(0.05, 0.9, 0.5, 1e-7, 0, true);
    expectTrajectory(trajectory(amsgrad({ learningRate: 0.05, beta2: 0.5 })), expected);
    const plainAdam = adamReference(0.05, 0.9, 0.5, 1e-7, 0, false);
    expect(Math.abs(plainAdam[STEPS - 1][3] - expected[STEPS - 1][3])).toBeGreaterThan(1e-3);
  });

  it('rprop (iRprop−): Δ grows by η⁺ on agreement, shrinks by η⁻ and forgets g on a flip', () => {
    const [delta0, etaMinus, etaPlus, dMin, dMax] = [0.2, 0.5, 1.2, 1e-6, 50];
    const delta = W0.map(() => delta0);
    const prev = zeros();
    let flips = 0;
    const expected = reference((w, g) => {
      for (let i = 0; i < w.length; i++) {
        const p = g[i] * prev[i];
        let gi = g[i];
        if (p > 0) delta[i] = Math.min(delta[i] * etaPlus, dMax);
        else if (p < 0) {
          delta[i] = Math.max(delta[i] * etaMinus, dMin);
          gi = 0;
          flips++;
        }
        w[i] -= Math.sign(gi) * delta[i];
        prev[i] = gi;
      }
    });
    expect(flips).toBeGreaterThan(0); // the problem exercises all three branches
    expectTrajectory(trajectory(rprop({ initialStepSize: delta0 })), expected);
  });

  it('signSGD: w ← w − η·sign(g)', () => {
    const lr = 0.05;
    expectTrajectory(trajectory(signSGD({ learningRate: lr })), reference((w, g) => {
      for (let i = 0; i < w.length; i++) w[i] -= lr * Math.sign(g[i]);
    }));
  });

  it('noisySGD: w ← w − η·(g + σ_t z), σ_t² = η_noise/(1+t)^γ, z the seeded N(0,1) draw', () => {
    const [lr, eta, gamma, seed] = [0.1, 0.3, 0.55, 7];
    const name = 'noisy_textbook';
    const w = freshVariable(W0, name); // fixes the variable name the noise is keyed by
    const optimizer = noisySGD({ learningRate: lr, eta, gamma, seed });
    const ours: number[][] = [];
    for (let t = 0; t < STEPS; t++) {
      applyGradient(optimizer, w, gradient(w.dataSync()));
      ours.push(Array.from(w.dataSync()));
    }
    const expected = reference((wRef, g, t) => {
      const step = t - 1; // the paper's t counts from 0
      const z = gaussianSamples(wRef.length, 1, drawSeed(seed, step, hashString(w.name)));
      const sigma = Math.sqrt(eta / (1 + step) ** gamma);
      for (let i = 0; i < wRef.length; i++) wRef[i] -= lr * (g[i] + sigma * z[i]);
    });
    optimizer.dispose();
    w.dispose();
    expectTrajectory(ours, expected);
  });
});

/** Standard normal CDF (erf by Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return 0.5 * (1 + (x >= 0 ? erf : -erf));
}

describe('the noise generator', () => {
  it('is standard normal (moments, Kolmogorov–Smirnov, tails), deterministic per seed, different across seeds', () => {
    const n = 200_000;
    const z = gaussianSamples(n, 1, 12345);
    let mean = 0;
    let square = 0;
    let fourth = 0;
    let beyondTail = 0; // |x| > 3.5: drawn by the ziggurat's tail path
    for (const x of z) {
      mean += x;
      square += x * x;
      fourth += x ** 4;
      if (Math.abs(x) > 3.5) beyondTail++;
    }
    mean /= n;
    const variance = square / n - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n)); // 5 standard errors
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    expect(Math.abs(fourth / n - 3)).toBeLessThan(5 * Math.sqrt(96 / n)); // Gaussian kurtosis
    const expectedTail = n * 2 * (1 - normalCdf(3.5)); // ≈ 93
    expect(Math.abs(beyondTail - expectedTail)).toBeLessThan(5 * Math.sqrt(expectedTail));
    const sorted = Float64Array.from(z).sort();
    let ks = 0;
    sorted.forEach((x, i) => {
      const f = normalCdf(x);
      ks = Math.max(ks, Math.abs(f - i / n), Math.abs(f - (i + 1) / n));
    });
    expect(ks).toBeLessThan(1.63 / Math.sqrt(n)); // 1% critical value
    expect(gaussianSamples(10, 1, 12345)).toEqual(z.slice(0, 10));
    expect(gaussianSamples(10, 1, 12346)).not.toEqual(z.slice(0, 10));
    expect(drawSeed(0, 1, hashString('a'))).not.toBe(drawSeed(0, 2, hashString('a')));
    expect(drawSeed(0, 1, hashString('a'))).not.toBe(drawSeed(0, 1, hashString('b')));
  });

  it('anneals the variance as η/(1+t)^γ', async () => {
    await selectBackend('cpu');
    // With g = 0 and η_lr = 1 the update is −σ_t z: its sample variance over 20k weights is σ_t².
    const [eta, gamma] = [0.5, 0.55];
    const w = freshVariable(tf.zeros([20_000]), 'anneal');
    const optimizer = noisySGD({ learningRate: 1, eta, gamma, seed: 3 });
    const zero = tf.zeros([20_000]);
    for (let t = 0; t < 12; t++) {
      const report = optimizer.applyGradientsReported({ [w.name]: zero }, { round: t, loss: undefined });
      const d = Array.from(report.direction![w.name].dataSync());
      const variance = d.reduce((s, x) => s + x * x, 0) / d.length;
      expect(Math.abs(variance / (eta / (1 + t) ** gamma) - 1)).toBeLessThan(0.05);
      tf.dispose([...Object.values(report.direction!), ...Object.values(report.stepSize ?? {})]);
    }
    tf.dispose([zero, w]);
    optimizer.dispose();
  });
});
