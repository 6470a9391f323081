// Every plugin wherever training runs (issue 14): the Trainer, Trainer.fitDataset, a hand-written
// loop (instrument), model.fitDataset (lens.wrap + lens.callback), model.fit (lens.callback(x, y))
// and the drop-in fit are views of one round pipeline, so on the same model, data order, seed and
// optimizer they give the same regret and activation numbers, bit for bit on cpu. A user's own
// optimizer (tf.train.momentum) in a hand-written loop is checked against brute force.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { instrument, selectBackend } from '@taylorlens/core';
import { RegretPlugin, StatisticsScope } from '@taylorlens/plugin-regret';
import { checkSameNumbers, REGRET } from './helpers/integrations.js';
import { bruteRounds } from './helpers/optimum-check.js';
import { forwardWith } from './helpers/brute.js';
import { bruteMinimum, bruteObjective } from './helpers/brute-optimum.js';
import { dataFor, disposeRounds, keepRounds, NETS } from './helpers/nets.js';
import { displacement, taylorSums } from './helpers/scopes.js';

beforeAll(async () => { await selectBackend('cpu'); });

describe('the same numbers wherever training runs (cpu, bit for bit)', () => {
  // The conv net and cross-entropy are in integrations.slow.test.ts.
  it(`${NETS[0].name}: regret at layer and neuron scope and the activation measures, in order (SGD) and shuffled (Adam)`, () => checkSameNumbers(NETS[0]));
});

describe('model.fit with shuffling', () => {
  it('with the regret plugin on: the documented error before training starts (no step, no plugin work)', async () => {
    const net = NETS[0];
    const model = net.make();
    model.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.1) });
    const w0 = model.getWeights().map((w) => Array.from(w.dataSync()));
    const regret = new RegretPlugin(REGRET);
    const lens = instrument(model, { plugins: [regret] });
    const { x, y } = dataFor(net, 16, 3);
    await expect(model.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0, callbacks: [lens.callback(x, y)] })).rejects.toThrow(
      "model.fit shuffles the data (shuffle defaults to true) in an order it keeps to itself (Math.random), and regret looks at every batch. "
      + "Pass shuffle: false to model.fit, or train with taylorlens's fit(model, x, y, args): the same arguments, shuffled with a seed, "
      + 'and it returns a History.');
    expect(model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(w0);
    expect(regret.losses).toEqual([]);
    expect(regret.results).toBeUndefined(); // beforeRun never ran
    tf.dispose([x, y]);
    model.dispose();
  });
});

describe('a user\'s own optimizer in a hand-written loop', () => {
  for (const net of [NETS[0], NETS[1]]) {
    it(`${net.name}, tf.train.momentum: the checkpoint optimum and regret against brute force over the rounds it saw`, async () => {
      const model = net.make();
      const optimizer = tf.train.momentum(0.2, 0.9);
      const regret = new RegretPlugin({
        network: { every: 1 }, layers: { every: 1 }, neurons: { perLayer: 1, subBatch: null, every: 1 }, budget: { maxOverhead: 1e6 }, trace: false,
        solver: { gapTolerance: 1e-7, maxIterations: 300 },
      });
      regret.retain = true;
      const lens = instrument(model, { loss: net.loss, plugins: [regret] });
      const kept = keepRounds(lens.trainer);
      const { x, y } = dataFor(net, 12, 21);
      const steps: number[] = [];
      for (let s = 0; s < 12; s += 3) {
        const xb = tf.slice(x, s, 3);
        const yb = tf.slice(y, s, 3);
        await lens.round(xb, yb, () => optimizer.minimize(() => net.loss.compute(model.apply(xb, { training: true }) as tf.Tensor, yb)));
        steps.push(kept.length);
        tf.dispose([xb, yb]);
      }
      await lens.end();
      expect(steps).toEqual([1, 2, 3, 4]);
      // Momentum, not SGD: from the second round on, W_{n+1} − W_n is not −η·∇ℓ_n(W_n).
      const r = kept[2];
      const sgdGap = tf.tidy(() => {
        const g = tf.grads((...w: tf.Tensor[]) => net.loss.compute(forwardWith(lens.trainer.anatomy, w, r.x), r.y))(r.before);
        return Math.max(...r.before.map((w, i) => tf.max(tf.abs(tf.sub(r.after[i], tf.sub(w, tf.mul(0.2, g[i]))))).dataSync()[0]));
      });
      expect(sgdGap).toBeGreaterThan(1e-4);
      const kind = net.loss.name === 'meanSquaredError' ? 'mse' : 'ce';
      for (const scope of regret.scopes) {
        const ckpt = regret.results.scopes[scope.desc.key].checkpoints.at(-1)!;
        expect(ckpt.recordedRounds).toBe(4);
        const centre = scope.centre()!.dataSync();
        for (let k = 0; k < Math.min(scope.desc.problems, 2); k++) {
          const P = scope.desc.params;
          const c = Float64Array.from(centre.subarray(k * P, (k + 1) * P));
          const rounds = bruteRounds(lens.trainer, scope, kept, k);
          const phi = ckpt.ball.phi[k];
          const tol = 1e-5 * Math.max(1, Math.abs(phi));
          // The reported optimum is feasible and the brute objective there is Φ.
          const u = scope.optima()![k];
          expect(Math.hypot(...u)).toBeLessThanOrEqual(ckpt.ball.radius[k] * (1 + 1e-6) + 1e-12);
          expect(Math.abs(bruteObjective(rounds, P, kind, u.map((ui, i) => c[i] + ui)).value - phi)).toBeLessThan(tol);
          // A generic minimiser over the same rounds finds nothing better.
          const brute = bruteMinimum(rounds, P, kind, c, ckpt.ball.radius[k]);
          expect(phi).toBeLessThanOrEqual(brute.value + tol);
          expect(brute.value - phi).toBeLessThan(Math.max(tol, ckpt.ball.solver[k].gap ?? 0));
          // Regret is Σℓ_n − Φ, with ℓ_n the loss at each W_n the user's optimizer reached.
          const incurred = kept.reduce((sum, r) => sum + r.loss, 0);
          expect(Math.abs(ckpt.ball.regret[k] - (incurred - phi))).toBeLessThan(tol);
          // The Taylor sums at the final weights W_5 against brute force.
          const v5 = scope.readParams(kept[3].after);
          const ours = (await taylorSums(scope, displacement(scope, v5))).values[k];
          const v5k = Float64Array.from(v5.dataSync().subarray(k * P, (k + 1) * P));
          expect(Math.abs(ours - bruteObjective(rounds, P, kind, v5k).value)).toBeLessThan(tol);
          v5.dispose();
          if (scope instanceof StatisticsScope) expect(ckpt.unconstrained!.phi[k]).toBeLessThanOrEqual(phi + tol);
        }
      }
      regret.dispose();
      disposeRounds(kept);
      tf.dispose([x, y]);
      model.dispose();
      optimizer.dispose();
    });
  }
});
