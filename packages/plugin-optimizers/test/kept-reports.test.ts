// keepStepReports: a step someone else asks for (minimize in a hand-written loop, model.fit's
// applyGradients) reports too while it is on, with the numbers applyGradientsReported gives,
// and the same update; the report waits for takeStepReport and is the taker's.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { isReportingOptimizer, selectBackend, type StepReport } from '@taylorlens/core';
import { adam, rmsprop } from '@taylorlens/plugin-optimizers';
import { freshVariable } from './helpers.js';

describe('reports of steps others take', () => {
  beforeAll(async () => { await selectBackend('cpu'); });

  for (const make of [() => adam({ learningRate: 0.1 }), () => rmsprop({ learningRate: 0.01 })]) {
    it(`${make().getClassName()}: minimize reports as applyGradientsReported does, only while asked, and keeps nothing after`, () => {
      const [a, b] = [make(), make()];
      expect(isReportingOptimizer(a)).toBe(true);
      const wa = freshVariable([1, -2, 0.5], 'kept_a');
      const wb = freshVariable([1, -2, 0.5], 'kept_b');
      const loss = (w: tf.Variable) => () => tf.sum(tf.square(tf.sub(w, tf.tensor1d([0.3, 0.1, -1])))) as tf.Scalar;
      a.minimize(loss(wa), false, [wa]); // state first, outside reporting
      const g0 = tf.grad((w: tf.Tensor) => loss(w as tf.Variable)())(wb);
      const r0 = b.applyGradientsReported({ [wb.name]: g0 }, { round: 1, loss: undefined });
      tf.dispose([g0, ...Object.values(r0.direction ?? {}), ...Object.values(r0.stepSize ?? {})]);
      expect(a.takeStepReport()).toBeUndefined();
      a.keepStepReports(true);
      const before = tf.memory().numTensors;
      a.minimize(loss(wa), false, [wa]);
      a.minimize(loss(wa), false, [wa]); // the first report, never taken, is dropped
      const kept = a.takeStepReport()!;
      expect(tf.memory().numTensors).toBe(before + 2); // direction and stepSize of the one variable
      expect(a.takeStepReport()).toBeUndefined();
      const refStep = () => {
        const g = tf.grad((w: tf.Tensor) => loss(w as tf.Variable)())(wb);
        const r = b.applyGradientsReported({ [wb.name]: g }, { round: 2, loss: undefined });
        g.dispose();
        return r;
      };
      const drop = (r: StepReport) => tf.dispose([...Object.values(r.direction ?? {}), ...Object.values(r.stepSize ?? {})]);
      drop(refStep());
      const ref = refStep();
      expect(Array.from(wa.dataSync())).toEqual(Array.from(wb.dataSync()));
      expect(kept.learningRate).toBe(ref.learningRate);
      expect(Array.from(kept.direction![wa.name].dataSync())).toEqual(Array.from(ref.direction![wb.name].dataSync()));
      expect(Array.from(kept.stepSize![wa.name].dataSync())).toEqual(Array.from(ref.stepSize![wb.name].dataSync()));
      drop(kept);
      drop(ref);
      expect(tf.memory().numTensors).toBe(before);
      a.minimize(loss(wa), false, [wa]);
      a.keepStepReports(false); // drops the waiting report
      expect(tf.memory().numTensors).toBe(before);
      a.minimize(loss(wa), false, [wa]);
      expect(a.takeStepReport()).toBeUndefined();
      tf.dispose([wa, wb]);
      a.dispose();
      b.dispose();
    });
  }
});
