// defineOptimizer's second form: an optimizer written directly as init/update (no pieces).
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@taylorlens/core';
import {
  defineOptimizer, ScalarCache, scaleByLearningRate, scaleBySign, trace, type NamedTensors, type State,
} from '@taylorlens/plugin-optimizers';
import { expectClose, freshVariable } from './helpers.js';

const constants = new ScalarCache();

/** Heavy ball written by hand: v ← βv − ηg, w ← w + v; reports η as its step size. */
const heavyBall = defineOptimizer<{ learningRate: number; beta: number }>({
  name: 'test.HeavyBall',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: { learningRate: { type: 'number', default: 0.1 }, beta: { type: 'number', default: 0.5 } },
  },
  init(params) {
    const state: State = {};
    for (const name of Object.keys(params)) state[name] = { velocity: tf.zerosLike(params[name]) };
    return state;
  },
  update(updates, state, _params, extra, o) {
    const out: NamedTensors = {};
    const next: State = {};
    for (const name of Object.keys(updates)) {
      const velocity = tf.sub(tf.mul(state[name].velocity, constants.get(o.beta)), tf.mul(updates[name], constants.get(o.learningRate)));
      out[name] = velocity;
      next[name] = { velocity };
    }
    return { updates: out, state: next, learningRate: o.learningRate, ...(extra.report ? { scale: Object.fromEntries(Object.keys(updates).map((n) => [n, o.learningRate])) } : {}) };
  },
  dispose: () => constants.dispose(),
});

describe('defineOptimizer with init/update', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('steps, reports, checkpoints under its own slot names and round-trips its config', async () => {
    const optimizer = heavyBall({ beta: 0.9 });
    const w = freshVariable([1, -1], 'heavy');
    const g = tf.tensor1d([0.5, 2]);
    optimizer.applyGradients({ [w.name]: g });
    const report = optimizer.applyGradientsReported({ [w.name]: g }, { round: 1, loss: 1 });
    // v₁ = −0.05, −0.2; v₂ = 0.9·v₁ − 0.1·g = −0.095, −0.38
    expectClose(report.direction![w.name].dataSync(), [-0.095, -0.38]);
    expectClose(report.stepSize![w.name].dataSync(), [0.1, 0.1]);
    expect(report.learningRate).toBe(0.1);
    expectClose(w.dataSync(), [1 - 0.05 - 0.095, -1 - 0.2 - 0.38]);

    const weights = await optimizer.getWeights();
    expect(weights.map((x) => x.name)).toEqual(['iter', `${w.name}/velocity`]);
    const cls = heavyBall.optimizerClass;
    const copy = tf.serialization.SerializationMap.getMap().classNameMap['test.HeavyBall'][1](cls as never, optimizer.getConfig());
    expect((copy as unknown as typeof optimizer).getConfig()).toEqual({ learningRate: 0.1, beta: 0.9 });
    tf.dispose([g, w, report.direction!, report.stepSize!, ...weights.map((x) => x.tensor)] as tf.TensorContainer);
    optimizer.dispose();
  });

  it('the README\'s Signum (pieces form): w ← w − η·sign(m), m ← βm + g', () => {
    const signum = defineOptimizer<{ learningRate: number; momentum: number }>({
      name: 'mylib.Signum',
      schema: { type: 'object', additionalProperties: false, properties: { learningRate: { type: 'number', default: 1e-3 }, momentum: { type: 'number', default: 0.9 } } },
      pieces: (o) => [trace({ decay: o.momentum }), scaleBySign(), scaleByLearningRate(o.learningRate)],
    });
    const optimizer = signum({ learningRate: 0.1 });
    const w = freshVariable([0, 0], 'signum');
    const grads = [[1, -1], [-0.5, -1], [-0.6, 2]];
    const m = [0, 0];
    const ref = [0, 0];
    for (const g of grads) {
      for (let i = 0; i < 2; i++) {
        m[i] = 0.9 * m[i] + g[i];
        ref[i] -= 0.1 * Math.sign(m[i]);
      }
      const t = tf.tensor1d(g);
      optimizer.applyGradients({ [w.name]: t });
      t.dispose();
    }
    // step 2: m₀ = 0.9 − 0.5 > 0 keeps going down against the gradient's sign; step 3: m₀ = 0.36 − 0.6 < 0
    expectClose(w.dataSync(), ref);
    expect(ref).toEqual([-0.1, 0.1]);
    w.dispose();
    optimizer.dispose();
  });
});
