// applyGradientsReported: direction is W_{n+1} − W_n, stepSize is the per-weight step size
// (|Δw|/|g| for diagonal preconditioners), learningRate is η_t; the tensors belong to the caller.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend, type StepReport } from '@taylorlens/core';
import {
  adagrad, adam, chain, clipByGlobalNorm, defineOptimizer, rmsprop, rprop, scaleByAdam, scaleByLearningRate, sgd, signSGD, trace,
  type TaylorOptimizer,
} from '@taylorlens/plugin-optimizers';
import { expectClose, freshVariable } from './helpers.js';

const G = [0.5, -2, 0, 1.5, -0.25, 3]; // one exact zero: stepSize must stay finite there
const W = [1, 2, -1, 0.5, 0, -3];

function oneStep(optimizer: TaylorOptimizer<object>, gradient = G) {
  const w = freshVariable(W, 'report');
  const before = w.dataSync().slice();
  const g = tf.tensor1d(gradient);
  const report = optimizer.applyGradientsReported({ [w.name]: g }, { round: 3, loss: 0.25 });
  const after = w.dataSync().slice();
  const read = (r: StepReport['direction']) => Array.from(r![w.name].dataSync());
  const result = {
    report, before, after, direction: read(report.direction), stepSize: report.stepSize ? read(report.stepSize) : undefined,
    dispose: () => {
      tf.dispose([g, w, ...Object.values(report.direction ?? {}), ...Object.values(report.stepSize ?? {})]);
      optimizer.dispose();
    },
  };
  return result;
}

/** |Δw|/|g| where g ≠ 0. */
const ratio = (direction: number[], gradient = G) => gradient.map((g, i) => (g === 0 ? NaN : Math.abs(direction[i] / g)));
const withoutZeroGradient = (xs: number[]) => xs.filter((_, i) => G[i] !== 0);

describe('step report', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('direction is W_{n+1} − W_n, for every named optimizer shape of update', () => {
    for (const optimizer of [sgd({ learningRate: 0.1 }), adam({ learningRate: 0.1 }), rprop(), rmsprop({ momentum: 0.9 })]) {
      const step = oneStep(optimizer as TaylorOptimizer<object>);
      // up to the rounding of the one float32 addition: half an ulp of |W| ≤ 3 is 1.2e-7
      expectClose(step.direction, Array.from(step.after, (a, i) => a - step.before[i]), { rtol: 0, atol: 1.2e-7 });
      expect(step.direction.some((d) => d !== 0)).toBe(true);
      step.dispose();
    }
  });

  it('sgd: stepSize = η everywhere, learningRate = η', () => {
    const step = oneStep(sgd({ learningRate: 0.1 }) as TaylorOptimizer<object>);
    expect(step.report.learningRate).toBe(0.1);
    expectClose(step.stepSize!, G.map(() => 0.1));
    expectClose(withoutZeroGradient(step.stepSize!), withoutZeroGradient(ratio(step.direction)));
    step.dispose();
  });

  it('adagrad and rmsprop: stepSize = |Δw|/|g| = η/√(a + ε), finite where g = 0', () => {
    const a = adagrad({ learningRate: 0.1 }) as TaylorOptimizer<object>;
    const step = oneStep(a);
    expectClose(step.stepSize!, G.map((g) => 0.1 / Math.sqrt(0.1 + g * g + 1e-7)));
    expectClose(withoutZeroGradient(step.stepSize!), withoutZeroGradient(ratio(step.direction)));
    step.dispose();

    const r = oneStep(rmsprop({ learningRate: 0.01 }) as TaylorOptimizer<object>);
    expect(r.stepSize!.every(Number.isFinite)).toBe(true);
    expectClose(withoutZeroGradient(r.stepSize!), withoutZeroGradient(ratio(r.direction)));
    r.dispose();
  });

  it('adam: stepSize = η/(√v̂ + ε); at t = 1 m̂ = g so it is |Δw|/|g|', () => {
    const step = oneStep(adam({ learningRate: 0.1 }) as TaylorOptimizer<object>);
    expectClose(step.stepSize!, G.map((g) => 0.1 / (Math.abs(g) + 1e-7)), { rtol: 1e-5, atol: 0 });
    expectClose(withoutZeroGradient(step.stepSize!), withoutZeroGradient(ratio(step.direction)), { rtol: 1e-5, atol: 0 });
    step.dispose();
  });

  it('rprop: stepSize = Δ, learningRate 1; signSGD: stepSize = η', () => {
    const step = oneStep(rprop({ initialStepSize: 0.05 }) as TaylorOptimizer<object>);
    expect(step.report.learningRate).toBe(1);
    expectClose(step.stepSize!, G.map(() => 0.05));
    expectClose(step.direction, G.map((g) => -Math.sign(g) * 0.05));
    step.dispose();
    const s = oneStep(signSGD({ learningRate: 0.02 }) as TaylorOptimizer<object>);
    expectClose(s.stepSize!, G.map(() => 0.02));
    s.dispose();
  });

  it('clipping is part of the step size: η·min(1, c/‖g‖) = |Δw|/|g|', () => {
    const clipped = defineOptimizer<{ learningRate: number }>({
      name: 'test.ClippedSGD',
      schema: { type: 'object', properties: { learningRate: { type: 'number', default: 0.1 } } },
      pieces: (o) => [clipByGlobalNorm(1), scaleByLearningRate(o.learningRate)],
    });
    const step = oneStep(clipped() as TaylorOptimizer<object>);
    const norm = Math.hypot(...G);
    expectClose(step.stepSize!, G.map(() => 0.1 / norm));
    expectClose(withoutZeroGradient(step.stepSize!), withoutZeroGradient(ratio(step.direction)));
    step.dispose();
  });

  it('hands out fresh tensors even when a chain ends on its state (disposing them leaves the optimizer intact)', () => {
    const traceOnly = defineOptimizer({ name: 'test.TraceOnly', schema: { type: 'object' }, pieces: () => [trace({ decay: 0.5 })] });
    const optimizer = traceOnly() as TaylorOptimizer<object>;
    const w = freshVariable([0, 0], 'own');
    const g = tf.tensor1d([1, -1]);
    for (let i = 0; i < 3; i++) {
      const report = optimizer.applyGradientsReported({ [w.name]: g }, { round: i, loss: undefined });
      tf.dispose([...Object.values(report.direction!), ...Object.values(report.stepSize!)]);
    }
    // m₁ = 1, m₂ = 1.5, m₃ = 1.75 → w = Σ m = 4.25 (the trace is added as is: no learning rate)
    expectClose(w.dataSync(), [4.25, -4.25]);
    tf.dispose([w, g]);
    optimizer.dispose();
  });

  it('learning-rate schedules see the step count, from 0', () => {
    const seen: number[] = [];
    const scheduled = defineOptimizer({
      name: 'test.Scheduled',
      schema: { type: 'object' },
      pieces: () => [scaleByLearningRate((step) => (seen.push(step), 0.1 / (1 + step)))],
    });
    const optimizer = scheduled() as TaylorOptimizer<object>;
    const w = freshVariable([1], 'sched');
    const g = tf.tensor1d([1]);
    const rates = [0, 1, 2].map((i) => {
      const r = optimizer.applyGradientsReported({ [w.name]: g }, { round: i, loss: undefined });
      tf.dispose([...Object.values(r.direction!), ...Object.values(r.stepSize!)]);
      return r.learningRate;
    });
    expect(seen).toEqual([0, 1, 2]);
    expect(rates).toEqual([0.1, 0.05, 0.1 / 3]);
    expectClose(w.dataSync(), [1 - 0.1 - 0.05 - 0.1 / 3]);
    tf.dispose([w, g]);
    optimizer.dispose();
  });

  it('chained pieces keep their own state under prefixed slot names', async () => {
    const optimizer = defineOptimizer({
      name: 'test.TwoTraces',
      schema: { type: 'object' },
      pieces: () => [trace({ decay: 0.5 }), trace({ decay: 0.25 }), scaleByLearningRate(1)],
    })() as TaylorOptimizer<object>;
    const w = freshVariable([0], 'slots');
    const g = tf.tensor1d([1]);
    optimizer.applyGradients({ [w.name]: g });
    optimizer.applyGradients({ [w.name]: g });
    const weights = await optimizer.getWeights();
    expect(weights.map((x) => x.name)).toEqual(['iter', `${w.name}/momentum.trace`, `${w.name}/momentum_1.trace`]);
    // first trace: 1, 1.5; second: 1, 0.25·1 + 1.5 = 1.75; w = −(1 + 1.75)
    expectClose(weights[1].tensor.dataSync(), [1.5]);
    expectClose(weights[2].tensor.dataSync(), [1.75]);
    expectClose(w.dataSync(), [-2.75]);
    tf.dispose([w, g, ...weights.map((x) => x.tensor)]);
    optimizer.dispose();
  });

  it('a chain nests in a chain (its pending factor folds into the outer learning rate): same weights as adam', () => {
    const nested = defineOptimizer({
      name: 'test.NestedAdam',
      schema: { type: 'object' },
      pieces: () => [chain(scaleByAdam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-7 })), scaleByLearningRate(0.01)],
    });
    const run = (optimizer: TaylorOptimizer<object>) => {
      const w = freshVariable(W, 'nested');
      for (let i = 0; i < 3; i++) {
        const g = tf.tensor1d(G.map((x) => x * (i + 1)));
        optimizer.applyGradients({ [w.name]: g });
        g.dispose();
      }
      const out = Array.from(w.dataSync());
      w.dispose();
      optimizer.dispose();
      return out;
    };
    expect(run(nested() as TaylorOptimizer<object>)).toEqual(run(adam({ learningRate: 0.01 }) as TaylorOptimizer<object>));
  });
});
