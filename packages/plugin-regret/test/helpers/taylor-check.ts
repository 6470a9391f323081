import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Trainer } from '@taylorlens/core';
import { RegretPlugin, taylorAtNext, type Scope } from '@taylorlens/plugin-regret';
import { bruteJacobianTensors, bruteTaylor, forwardWith, heldAt, relErr, withScope } from './brute.js';
import { dataFor, disposeRounds, keepRounds, NETS, type KeptRound } from './nets.js';
import { displacement, taylorSums } from './scopes.js';

const OPTIONS = {
  network: { every: 1 },
  layers: { every: 1 },
  neurons: { perLayer: 2, subBatch: null, every: 1 },
  budget: { maxOverhead: 1e6 },
  trace: false,
};

async function trained(net: (typeof NETS)[number], rounds: number, options: object) {
  const model = net.make();
  const plugin = new RegretPlugin(options);
  plugin.retain = true;
  const optimizer = tf.train.sgd(0.3);
  const trainer = new Trainer(model, { loss: net.loss, optimizer, plugins: [plugin] });
  const kept = keepRounds(trainer);
  const { x, y } = dataFor(net, 3 * rounds, 9);
  await trainer.fit(x, y, { epochs: 1, batchSize: 3, shuffle: false });
  tf.dispose([x, y]);
  const done = () => { plugin.dispose(); disposeRounds(kept); model.dispose(); optimizer.dispose(); };
  return { trainer, plugin, kept, done };
}

/** Brute-force `Σ_n τ^n(v)` per problem over the kept rounds. */
function bruteSum(trainer: Trainer, scope: Scope, kept: KeptRound[], v: tf.Tensor2D): number[] {
  const d = scope.desc;
  const [K, P] = v.shape;
  const total = new Array(K).fill(0);
  for (const r of kept) {
    const vn = scope.readParams(r.before);
    const G = bruteJacobianTensors(trainer.anatomy, d, r.before, r.x, vn, r.frozen);
    const vals = bruteTaylor(trainer.loss, G, K, r.x.shape[0], trainer.anatomy.outputSize, P, r.f, r.y, vn.dataSync() as Float32Array, v.dataSync());
    vals.forEach((t, k) => { total[k] += t; });
    vn.dispose();
  }
  return total;
}

/**
 * Every scope's Taylor losses against brute force on one net (the active backend): value and
 * gradient at W_n, the sums at W_{n+1}, W_4 and a random point, the trace's τ^n(W_{n+1}), and
 * convexity along random lines; no tensor left behind.
 */
export async function checkTaylor(net: (typeof NETS)[number], options: object = OPTIONS): Promise<void> {
  const before = tf.memory().numTensors;
  // One round: value and gradient at W_1.
  {
    const { trainer, plugin, kept, done } = await trained(net, 1, options);
    const r = kept[0];
    for (const scope of plugin.scopes) {
      const v1 = scope.readParams(r.before);
      const u1 = displacement(scope, v1);
      const ours = await taylorSums(scope, u1);
      for (const val of ours.values) expect(Math.abs(val - r.loss)).toBeLessThan(1e-5 * Math.max(1, r.loss));
      // The real gradient of ℓ with respect to the scope's parameters (with BatchNormalization's
      // batch statistics held at the round's, as the linearisation holds them).
      const real = heldAt(trainer.anatomy, r.before, () => tf.tidy(() => tf.grad((v: tf.Tensor) => trainer.loss.compute(forwardWith(trainer.anatomy, withScope(trainer.anatomy, scope.desc, r.before, v), r.x, r.frozen), r.y))(v1)));
      const rv = real.dataSync();
      const P = scope.desc.params;
      ours.grads.forEach((g, k) => expect(relErr(g, rv.subarray(k * P, (k + 1) * P))).toBeLessThan(1e-4));
      // τ^1 at W_2 from the trace's clamped pass and from the scope's own data, against brute force.
      const v2 = scope.readParams(r.after);
      const brute = bruteSum(trainer, scope, kept, v2);
      const sums = await taylorSums(scope, displacement(scope, v2));
      expect(relErr(sums.values, brute)).toBeLessThan(1e-5);
      tf.dispose([real, v1, v2]);
    }
    done();
  }
  // Three rounds: the sums at W_4, at a random point, and convexity along random lines.
  {
    const { trainer, plugin, kept, done } = await trained(net, 3, options);
    for (const scope of plugin.scopes) {
      const last = kept[kept.length - 1];
      const vEnd = scope.readParams(last.after);
      const vRand = tf.tidy(() => tf.add(vEnd, tf.randomNormal(vEnd.shape, 0, 0.3, 'float32', 4))) as tf.Tensor2D;
      for (const v of [vEnd, vRand]) {
        const sums = await taylorSums(scope, displacement(scope, v));
        expect(relErr(sums.values, bruteSum(trainer, scope, kept, v))).toBeLessThan(2e-5);
      }
      // The trace's τ^n(W_{n+1}) (one clamped pass in afterStep) against brute force, per round.
      for (const r of kept) {
        const vNext = scope.readParams(r.after);
        const fake = { ...r, before: r.before };
        const t = await captureAndTrace(trainer, scope, fake);
        expect(relErr(t, bruteSum(trainer, scope, [r], vNext))).toBeLessThan(1e-5);
        vNext.dispose();
      }
      // Convexity along random lines: second differences are ≥ 0.
      const u0 = displacement(scope, vEnd);
      for (let line = 0; line < 3; line++) {
        const dir = u0.map((u) => Float64Array.from(u, (_, i) => Math.sin(17 * line + 3 * i + u.length)));
        const at = (t: number) => u0.map((u, k) => Float64Array.from(u, (ui, i) => ui + t * dir[k][i]));
        const [a, b, c] = await Promise.all([taylorSums(scope, at(-0.5)), taylorSums(scope, at(0)), taylorSums(scope, at(0.5))]);
        b.values.forEach((mid, k) => expect(a.values[k] + c.values[k] - 2 * mid).toBeGreaterThanOrEqual(-1e-5 * Math.max(1, Math.abs(mid))));
      }
      tf.dispose([vEnd, vRand]);
    }
    done();
  }
  expect(tf.memory().numTensors).toBe(before);
}

/** τ^n(W_{n+1}) by the trace code path, on a replayed capture of round r. */
async function captureAndTrace(trainer: Trainer, scope: Scope, r: KeptRound): Promise<number[]> {
  const { BatchCapture, forward } = await import('@taylorlens/core');
  const cap = new BatchCapture(trainer.anatomy, r.x, r.y);
  // Replay round n's forward at W_n (assign, capture, restore).
  const now = trainer.anatomy.variables.map((v) => v.clone());
  trainer.anatomy.variables.forEach((v, i) => v.assign(r.before[i]));
  tf.tidy(() => { cap.output = tf.keep(forward(trainer.anatomy, r.x, { inputs: true, preActivations: true, activations: false, preActivationGrads: false }, cap)); });
  trainer.anatomy.variables.forEach((v, i) => v.assign(now[i]));
  const t = taylorAtNext(trainer.anatomy, cap, trainer.loss, scope.desc, r.before, r.after);
  const out = Array.from(await t.data());
  tf.dispose([t, ...now]);
  cap.dispose();
  return out;
}
