// Every loss name against tfjs-layers' own loss as compiled: model.evaluate of a compiled model
// whose output is `activation(z)` for the z we choose, so the reference is tfjs's code path, and
// our TaylorLoss on z (the pre-activation where the loss absorbs the activation). Values and
// gradients in float32 on random data with every kink kept at a distance; the float64 hostValue
// against the float32 value; the refusals and their reasons.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  incurredLoss, LOSS_ALIASES, LOSS_NAMES, lossReduction, outputActivation, resolveLoss, selectBackend, softmaxCrossEntropy,
  sparseSoftmaxCrossEntropy, type TaylorLoss,
} from '@taylorlens/core';

beforeAll(async () => { await selectBackend('cpu'); });

const B = 16;
const K = 5;

/** input [K] → dense K (identity kernel, zero bias, `activation`): its output is activation(z) exactly. */
function identityModel(activation: string, loss: unknown): tfl.LayersModel {
  const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [K], units: K, activation: activation as 'linear', kernelInitializer: 'identity', biasInitializer: 'zeros' })] });
  m.compile({ loss: loss as string, optimizer: tf.train.sgd(0.1) });
  return m;
}

const ACTIVATE: Record<string, (z: tf.Tensor) => tf.Tensor> = {
  linear: (z) => z, softmax: (z) => tf.softmax(z), sigmoid: (z) => tf.sigmoid(z), softplus: (z) => tf.softplus(z),
};

/** Draws in float64 from a seeded generator, then float32 tensors. */
function rng(seed: number) {
  let s = seed >>> 0;
  const u = () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  const n = () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  const sign = () => (u() < 0.5 ? -1 : 1);
  return { u, n, sign };
}
const grid = (f: (i: number) => number) => Array.from({ length: B * K }, (_, i) => f(i));
const t2 = (v: number[], cols = K) => tf.tensor2d(v, [v.length / cols, cols]);
const oneHotRows = (labels: number[]) => labels.flatMap((c) => Array.from({ length: K }, (_, k) => (k === c ? 1 : 0)));

interface Case {
  name: string;
  /** The last layer's activation tfjs applies before the loss. */
  activation: string;
  /** What is compiled: a name tfjs-layers knows, or a tf.losses function. */
  compiled?: unknown;
  data: (seed: number) => { z: number[]; y: number[]; yCols?: number };
  /** Relative tolerance of the value against tfjs (float32 rounding, and ε where tfjs has it). */
  tol: number;
}

const CASES: Case[] = [
  { name: 'meanSquaredError', activation: 'linear', tol: 1e-6, data: (s) => { const r = rng(s); return { z: grid(r.n), y: grid(r.n) }; } },
  { name: 'meanAbsoluteError', activation: 'linear', tol: 1e-6, data: (s) => { const r = rng(s); const y = grid(r.n); return { y, z: y.map((v) => v + r.sign() * (0.05 + Math.abs(r.n()))) }; } },
  {
    name: 'meanAbsolutePercentageError', activation: 'linear', tol: 1e-6,
    // One target is 0: tfjs divides by clip(|y|, ε, ∞) = ε there.
    data: (s) => { const r = rng(s); const y = grid((i) => (i === 7 ? 0 : r.sign() * (0.5 + 2 * r.u()))); return { y, z: y.map((v) => v + r.sign() * (0.05 + Math.abs(r.n()))) }; },
  },
  {
    name: 'huberLoss', activation: 'linear', compiled: tf.losses.huberLoss, tol: 1e-6,
    // |f − y| in (0.05, 0.9) or (1.1, 3): away from the kinks at 0 (none) and at δ = 1.
    data: (s) => { const r = rng(s); const y = grid(r.n); return { y, z: y.map((v) => v + r.sign() * (r.u() < 0.5 ? 0.05 + 0.85 * r.u() : 1.1 + 1.9 * r.u())) }; },
  },
  { name: 'logcosh', activation: 'linear', tol: 1e-6, data: (s) => { const r = rng(s); return { z: grid(() => 3 * r.n()), y: grid(r.n) }; } },
  {
    name: 'hinge', activation: 'linear', tol: 1e-6,
    // y ∈ {−1, 1}; y·f = 1 ± (0.05 + |n|), away from the kink at y·f = 1.
    data: (s) => { const r = rng(s); const y = grid(r.sign); return { y, z: y.map((v) => v * (1 + r.sign() * (0.05 + Math.abs(r.n())))) }; },
  },
  {
    name: 'squaredHinge', activation: 'linear', tol: 1e-6,
    data: (s) => { const r = rng(s); const y = grid(r.sign); return { y, z: y.map((v) => v * (1 + r.sign() * (0.05 + Math.abs(r.n())))) }; },
  },
  {
    name: 'categoricalHinge', activation: 'linear', tol: 1e-6,
    // Well-separated outputs: no ties in the max, and the margin 1 + neg − pos away from 0.
    data: (s) => {
      const r = rng(s);
      for (;;) {
        const labels = Array.from({ length: B }, () => Math.floor(r.u() * K));
        const z = grid(() => 2 * r.n());
        const ok = labels.every((c, b) => {
          const row = z.slice(b * K, (b + 1) * K);
          const others = row.filter((_, k) => k !== c).sort((p, q) => q - p);
          return others[0] - others[1] > 0.05 && Math.abs(1 + others[0] - row[c]) > 0.05;
        });
        if (ok) return { z, y: oneHotRows(labels) };
      }
    },
  },
  { name: 'categoricalCrossentropy', activation: 'softmax', tol: 1e-5, data: (s) => { const r = rng(s); return { z: grid(() => 2 * r.n()), y: oneHotRows(Array.from({ length: B }, () => Math.floor(r.u() * K))) }; } },
  {
    name: 'sparseCategoricalCrossentropy', activation: 'softmax', tol: 1e-5,
    data: (s) => { const r = rng(s); return { z: grid(() => 2 * r.n()), y: Array.from({ length: B }, () => Math.floor(r.u() * K)), yCols: 1 }; },
  },
  // tfjs recovers the logit as log(p/(1−p)) in float32: |z| ≤ 4 keeps that round trip to ~1e-6.
  { name: 'binaryCrossentropy', activation: 'sigmoid', tol: 2e-5, data: (s) => { const r = rng(s); return { z: grid(() => 8 * r.u() - 4), y: grid(r.u) }; } },
  { name: 'logLoss', activation: 'sigmoid', compiled: tf.losses.logLoss, tol: 2e-5, data: (s) => { const r = rng(s); return { z: grid(() => 8 * r.u() - 4), y: grid(r.u) }; } },
  {
    name: 'kullbackLeiblerDivergence', activation: 'softmax', tol: 1e-5,
    // Soft targets with some exact zeros (their terms are 0 in tfjs too).
    data: (s) => {
      const r = rng(s);
      const y = grid((i) => (i % 7 === 3 ? 0 : Math.exp(r.n())));
      for (let b = 0; b < B; b++) { const row = y.slice(b * K, (b + 1) * K); const t = row.reduce((p, q) => p + q, 0); row.forEach((v, k) => { y[b * K + k] = v / t; }); }
      return { z: grid(() => 2 * r.n()), y };
    },
  },
  // tfjs adds ε inside the log: y·ε/out ≤ 5·1e-7/softplus(−2) ≈ 4e-6 here.
  { name: 'poisson', activation: 'softplus', tol: 2e-5, data: (s) => { const r = rng(s); return { z: grid(() => 5 * r.u() - 2), y: grid(() => Math.floor(6 * r.u())) }; } },
];

/** tfjs's compiled loss of activation(z), as model.evaluate computes it, and its gradient with respect to z. */
function reference(c: Case, z: tf.Tensor2D, y: tf.Tensor): { value: number; grad: tf.Tensor; model: tfl.LayersModel } {
  const model = identityModel(c.activation, c.compiled ?? c.name);
  const ev = model.evaluate(z, y, { batchSize: B }) as tf.Scalar;
  const value = ev.dataSync()[0];
  ev.dispose();
  type Compiled = { lossFunctions: ((y: tf.Tensor, p: tf.Tensor) => tf.Tensor)[]; model?: Compiled };
  const lossFn = ((model as unknown as Compiled).model ?? (model as unknown as Compiled)).lossFunctions[0]; // a Sequential compiles its inner model
  const grad = tf.grad((zz: tf.Tensor) => tf.mean(lossFn(y, ACTIVATE[c.activation](zz))) as tf.Scalar)(z);
  return { value, grad, model };
}

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) { num = Math.max(num, Math.abs(a[i] - b[i])); den = Math.max(den, Math.abs(b[i])); }
  return num / Math.max(den, 1e-30);
}

describe('every tfjs loss convex in the output, as compiled', () => {
  for (const c of CASES) {
    it(`${c.name}: the value and gradient of tfjs's compiled loss, on 3 random draws`, async () => {
      for (const seed of [1, 2, 3]) {
        const d = c.data(seed);
        const z = t2(d.z);
        const y = t2(d.y, d.yCols ?? K);
        const ref = reference(c, z, y);
        const loss = resolveLoss(ref.model);
        expect(loss.absorbs ?? 'linear').toBe(c.activation);
        expect(loss.quadratic).toBe(c.name === 'meanSquaredError');
        const ours = tf.tidy(() => loss.compute(z, y));
        const value = ours.dataSync()[0];
        expect(Math.abs(value - ref.value) / Math.abs(ref.value)).toBeLessThan(c.tol);
        const g = tf.grad((zz: tf.Tensor) => loss.compute(zz, y))(z);
        // Gradients: 10× the value's tolerance (a difference of float32 roundings relative to the largest entry).
        expect(relDiff(g.dataSync(), ref.grad.dataSync())).toBeLessThan(10 * c.tol);
        // ℓ_n as published: reduced in float64 on the host, the float32 value to float32 rounding.
        expect(lossReduction(loss)).toBe('float64 on the host');
        const host = await incurredLoss(loss, z, y);
        expect(Math.abs(host - value) / Math.abs(value)).toBeLessThan(2e-6);
        // The per-sample losses the regret plugin uses average to the loss.
        const per = tf.tidy(() => tf.mean(loss.perSample ? loss.perSample(z, y) : tf.stack([loss.compute(z, y)])));
        expect(Math.abs(per.dataSync()[0] - value) / Math.abs(value)).toBeLessThan(1e-6);
        tf.dispose([z, y, ours, g, per, ref.grad]);
        ref.model.dispose();
      }
    });
  }

  it('every loss is convex in f along random lines (second differences ≥ 0), including far from the data', () => {
    for (const c of CASES) {
      const d = c.data(9);
      const y = t2(d.y, d.yCols ?? K);
      const loss = resolveLoss(identityModel(c.activation, c.compiled ?? c.name));
      const r = rng(5);
      for (let line = 0; line < 20; line++) {
        const scale = line < 10 ? 1 : 30; // far out: Taylor outputs wander where no clip of tfjs would hold
        const at = grid(() => scale * r.n());
        const dir = grid(() => scale * r.n());
        const h = 0.25 * scale;
        const v = [-h, 0, h].map((t) => tf.tidy(() => loss.compute(t2(at.map((a, i) => a + t * dir[i])), y).dataSync()[0]));
        expect(v.every(Number.isFinite)).toBe(true);
        expect(v[0] + v[2] - 2 * v[1]).toBeGreaterThanOrEqual(-1e-5 * Math.max(1, Math.abs(v[1])));
      }
      y.dispose();
    }
  });

  it('poisson on the softplus pre-activation: finite value and gradient where softplus underflows, and the float64 value there', async () => {
    const { poisson } = await import('@taylorlens/core');
    const z = tf.tensor2d([[-200, -40, -16, -14.9, 0], [3, 20, 60, -1, -90]]);
    const y = tf.tensor2d([[1, 2, 0, 3, 1], [4, 0, 2, 1, 5]]);
    const { value, grad } = tf.valueAndGrad((zz: tf.Tensor) => poisson.compute(zz, y))(z);
    const v = value.dataSync()[0];
    const g = grad.dataSync();
    expect(Number.isFinite(v) && g.every(Number.isFinite)).toBe(true);
    // log softplus(f) = f in the tail: ∂ℓ/∂f = (σ(f) − y·σ(f)/softplus(f))/n → −y/n there.
    expect(g[0]).toBeCloseTo(-1 / 10, 6);
    expect(g[9]).toBeCloseTo(-5 / 10, 6);
    expect(Math.abs((await incurredLoss(poisson, z, y)) - v) / v).toBeLessThan(2e-6);
    tf.dispose([z, y, value, grad]);
  });

  it('sparse targets: [B] int32, [B] float32 and [B, 1] give the one-hot loss; ℓ_n in float64 from int32 labels', async () => {
    const r = rng(11);
    const labels = Array.from({ length: B }, () => Math.floor(r.u() * K));
    const z = t2(grid(() => 3 * r.n()));
    const oneHot = t2(oneHotRows(labels));
    const dense = tf.tidy(() => softmaxCrossEntropy.compute(z, oneHot).dataSync()[0]);
    const hostDense = await incurredLoss(softmaxCrossEntropy, z, oneHot);
    for (const y of [tf.tensor1d(labels, 'int32'), tf.tensor1d(labels), tf.tensor2d(labels, [B, 1]), tf.tensor2d(labels, [B, 1], 'int32')]) {
      const v = tf.tidy(() => sparseSoftmaxCrossEntropy.compute(z, y).dataSync()[0]);
      expect(Math.abs(v - dense) / dense).toBeLessThan(1e-6);
      expect(Math.abs((await incurredLoss(sparseSoftmaxCrossEntropy, z, y)) - hostDense) / hostDense).toBeLessThan(1e-12);
      y.dispose();
    }
    // One-hot targets given to the sparse loss: a clear error, not a silent broadcast.
    expect(() => sparseSoftmaxCrossEntropy.compute(z, oneHot)).toThrow(/one class index per sample.*categoricalCrossentropy/);
    tf.dispose([z, oneHot]);
  });

  it('the taylorlens names on logits equal tf.losses on a linear output, and absorb the activation where there is one', () => {
    const r = rng(12);
    const z = t2(grid(() => 2 * r.n()));
    const yOne = t2(oneHotRows(Array.from({ length: B }, () => Math.floor(r.u() * K))));
    const yBin = t2(grid(r.u));
    const pairs: [string, tf.Tensor, number][] = [
      ['softmaxCrossEntropy', yOne, tf.losses.softmaxCrossEntropy(yOne, z).dataSync()[0]],
      ['sigmoidCrossEntropy', yBin, tf.losses.sigmoidCrossEntropy(yBin, z).dataSync()[0]],
      ['sparseSoftmaxCrossEntropy', tf.argMax(yOne, -1), tf.losses.softmaxCrossEntropy(yOne, z).dataSync()[0]],
    ];
    for (const [name, y, ref] of pairs) {
      for (const act of ['linear', name.startsWith('sigmoid') ? 'sigmoid' : 'softmax']) {
        const loss = resolveLoss(identityModel(act, 'meanSquaredError'), name);
        expect(Math.abs(tf.tidy(() => loss.compute(z, y).dataSync()[0]) - ref) / ref).toBeLessThan(1e-6);
      }
    }
    // Compiled as tf.losses functions on a linear output: the logits are the output.
    expect(resolveLoss(identityModel('linear', tf.losses.softmaxCrossEntropy))).toBe(softmaxCrossEntropy);
    expect(resolveLoss(identityModel('linear', tf.losses.meanSquaredError)).name).toBe('meanSquaredError');
    expect(resolveLoss(identityModel('linear', tf.losses.absoluteDifference)).name).toBe('meanAbsoluteError');
    tf.dispose([z, yOne, yBin, pairs[2][1]]);
  });
});

describe('names and refusals', () => {
  const needs: Record<string, string> = {
    categoricalCrossentropy: 'softmax', sparseCategoricalCrossentropy: 'softmax', kullbackLeiblerDivergence: 'softmax',
    binaryCrossentropy: 'sigmoid', logLoss: 'sigmoid', poisson: 'softplus',
  };
  const modelFor = (name: string) => identityModel(needs[name] ?? 'linear', 'meanSquaredError');

  it('every alias (tfjs-layers short names, snake_case of saved models, tf.losses and Keras names) resolves to its loss', () => {
    for (const [alias, name] of Object.entries(LOSS_ALIASES)) {
      expect(LOSS_NAMES).toContain(name);
      expect(resolveLoss(modelFor(name), alias)).toBe(resolveLoss(modelFor(name), name));
    }
    // tfjs-layers' compile names (its lossesMap) that are convex, and the snake_case its saved models carry.
    for (const n of ['meanSquaredError', 'meanAbsoluteError', 'meanAbsolutePercentageError', 'squaredHinge', 'hinge', 'categoricalHinge', 'logcosh',
      'categoricalCrossentropy', 'sparseCategoricalCrossentropy', 'binaryCrossentropy', 'kullbackLeiblerDivergence', 'poisson']) {
      expect(LOSS_NAMES).toContain(n);
      const snake = n.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      expect(resolveLoss(modelFor(n), snake)).toBe(resolveLoss(modelFor(n), n));
    }
    for (const short of ['mse', 'MSE', 'mae', 'MAE', 'mape', 'MAPE', 'kld', 'KLD']) expect(LOSS_ALIASES[short]).toBeDefined();
  });

  it('a loss on probabilities compiled on a model without the activation is refused, with the reason and the way out', () => {
    for (const [name, act] of Object.entries(needs)) {
      for (const other of ['linear', 'relu', act === 'softmax' ? 'sigmoid' : 'softmax']) {
        const m = identityModel(other, name === 'logLoss' ? tf.losses.logLoss : name);
        expect(outputActivation(m)).toBe(other);
        expect(() => resolveLoss(m)).toThrow(new RegExp(`is not convex in this model's output: the last layer's activation is "${other}", not "${act}".*Put activation "${act}".*defineLoss`));
        m.dispose();
      }
    }
    expect(() => resolveLoss(identityModel('linear', 'categoricalCrossentropy'))).toThrow(/clip\(out\/Σout.*pass loss "softmaxCrossEntropy" instead/);
    expect(() => resolveLoss(identityModel('linear', 'poisson'))).toThrow(/NaN below.*softplus/);
    // tf.losses functions that apply the activation themselves, on a model that already applies it.
    expect(() => resolveLoss(identityModel('softmax', tf.losses.softmaxCrossEntropy))).toThrow(/softmax\(softmax\(logits\)\).*"categoricalCrossentropy"/);
    expect(() => resolveLoss(identityModel('sigmoid', tf.losses.sigmoidCrossEntropy))).toThrow(/"binaryCrossentropy"/);
  });

  it('an activation layer after the last dense layer counts as the output activation', () => {
    const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [K], units: K }), tfl.layers.activation({ activation: 'softmax' }), tfl.layers.dropout({ rate: 0 })] });
    m.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: 'sgd' });
    expect(outputActivation(m)).toBe('softmax');
    expect(resolveLoss(m)).toBe(sparseSoftmaxCrossEntropy);
  });

  it('losses that are not convex in the output are refused with the reason; unknown names list the supported ones', () => {
    for (const name of ['meanSquaredLogarithmicError', 'msle', 'mean_squared_logarithmic_error', 'cosineProximity', 'cosine']) {
      expect(() => resolveLoss(identityModel('linear', 'meanSquaredError'), name)).toThrow(/is not convex in the network output.*defineLoss/);
    }
    const m = identityModel('linear', 'meanSquaredLogarithmicError');
    expect(() => resolveLoss(m)).toThrow(/"meanSquaredLogarithmicError" is not convex.*concave/);
    expect(() => resolveLoss(m, 'crossentropy')).toThrow(new RegExp(`unknown loss "crossentropy": expected one of ${LOSS_NAMES.join(', ')}.*defineLoss`));
    const custom = identityModel('linear', (y: tf.Tensor, p: tf.Tensor) => tf.mean(tf.abs(tf.sub(y, p)), -1));
    expect(() => resolveLoss(custom)).toThrow(/loss function object.*TaylorLoss \(defineLoss\)/);
    const own: TaylorLoss = sparseSoftmaxCrossEntropy;
    expect(resolveLoss(custom, own)).toBe(own); // a TaylorLoss is used as given
  });
});
