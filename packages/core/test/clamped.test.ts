import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { captureForward, clampedForward, forwardFrom, modelAnatomy, perSampleJacobian, selectBackend } from '@taylorlens/core';
import { tinyConv, tinyDense } from './helpers/models.js';

/** Per-output backward passes through the real network: row k of J_l is ∇_{a_l} Σ_b f[b,k]. */
function jacobianByBackward(model: tfl.LayersModel, l: number, x: tf.Tensor, absorbs: string | null): Float32Array {
  const anatomy = modelAnatomy(model, { lossAbsorbs: absorbs });
  const cap = captureForward(anatomy, x);
  const a = cap.preActivation(l);
  const B = x.shape[0];
  const pL = anatomy.outputSize;
  const pl = anatomy.layers[l].units;
  const out = new Float32Array(B * pL * pl);
  for (let k = 0; k < pL; k++) {
    const g = tf.tidy(() => tf.grad((aa: tf.Tensor) => tf.sum(tf.slice(tf.reshape(forwardFrom(anatomy, l, aa), [B, pL]), [0, k], [B, 1])))(a));
    const gv = g.dataSync();
    for (let b = 0; b < B; b++) for (let j = 0; j < pl; j++) out[(b * pL + k) * pl + j] = gv[b * pl + j];
    g.dispose();
  }
  cap.dispose();
  return out;
}

/** Central finite differences of the real network in each pre-activation coordinate. */
function jacobianByDifferences(model: tfl.LayersModel, l: number, x: tf.Tensor, absorbs: string | null, eps = 1e-3): Float32Array {
  const anatomy = modelAnatomy(model, { lossAbsorbs: absorbs });
  const cap = captureForward(anatomy, x);
  const a = cap.preActivation(l);
  const B = x.shape[0];
  const pL = anatomy.outputSize;
  const pl = anatomy.layers[l].units;
  const out = new Float32Array(B * pL * pl);
  for (let j = 0; j < pl; j++) {
    const diff = tf.tidy(() => {
      const e = tf.reshape(tf.oneHot(tf.tensor1d([j], 'int32'), pl), [1, ...anatomy.layers[l].outputShape]);
      const up = forwardFrom(anatomy, l, tf.add(a, tf.mul(e, eps)));
      const down = forwardFrom(anatomy, l, tf.sub(a, tf.mul(e, eps)));
      return tf.reshape(tf.div(tf.sub(up, down), 2 * eps), [B, pL]);
    });
    const dv = diff.dataSync();
    for (let b = 0; b < B; b++) for (let k = 0; k < pL; k++) out[(b * pL + k) * pl + j] = dv[b * pL + k];
    diff.dispose();
  }
  cap.dispose();
  return out;
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num = Math.max(num, Math.abs(a[i] - b[i])); den = Math.max(den, Math.abs(b[i])); }
  return num / Math.max(den, 1e-12);
}

const nets: { name: string; make: () => tfl.LayersModel; input: number[]; absorbs: string | null }[] = [
  { name: 'dense relu', make: () => tinyDense([5, 4, 3, 6]), input: [5], absorbs: null },
  { name: 'dense tanh (other activation)', make: () => tinyDense([5, 4, 3, 6], 2, 'tanh'), input: [5], absorbs: null },
  { name: 'conv + max-pool', make: () => tinyConv(1), input: [8, 8, 2], absorbs: 'softmax' },
  { name: 'conv valid + max-pool', make: () => tinyConv(4, { input: [9, 9, 1], pad: 'valid' }), input: [9, 9, 1], absorbs: 'softmax' },
];

for (const backend of ['cpu', 'wasm']) {
  describe(`per-sample Jacobians on ${backend}`, () => {
    beforeAll(async () => { await selectBackend(backend); });

    for (const net of nets) {
      it(`${net.name}: clamped forward, reverse mode, per-output backward passes and finite differences agree`, () => {
        const model = net.make();
        const anatomy = modelAnatomy(model, { lossAbsorbs: net.absorbs });
        const x = tf.randomNormal([3, ...net.input], 0, 1, 'float32', 11);
        const before = tf.memory().numTensors;
        for (let l = 0; l < anatomy.layers.length; l++) {
          const cap = captureForward(anatomy, x);
          const fwd = perSampleJacobian(anatomy, cap, l, 'forward');
          const rev = perSampleJacobian(anatomy, cap, l, 'reverse');
          expect(fwd.shape).toEqual([3, anatomy.outputSize, anatomy.layers[l].units]);
          const f = fwd.dataSync();
          expect(relErr(rev.dataSync(), f)).toBeLessThan(1e-5);
          expect(relErr(f, jacobianByBackward(model, l, x, net.absorbs))).toBeLessThan(1e-5);
          expect(relErr(f, jacobianByDifferences(model, l, x, net.absorbs))).toBeLessThan(2e-2);
          tf.dispose([fwd, rev]);
          cap.dispose();
        }
        expect(tf.memory().numTensors).toBe(before);
        x.dispose();
      });
    }

    it('the clamped product of a random direction is J·d per sample', () => {
      const model = tinyConv(2);
      const anatomy = modelAnatomy(model, { lossAbsorbs: 'softmax' });
      const x = tf.randomNormal([2, 8, 8, 2], 0, 1, 'float32', 5);
      const cap = captureForward(anatomy, x);
      const d = tf.randomNormal([2, 3, ...anatomy.layers[1].outputShape], 0, 1, 'float32', 6);
      const out = clampedForward(anatomy, cap, 1, d); // [2, 3, pL]
      const J = perSampleJacobian(anatomy, cap, 1, 'reverse'); // [2, pL, p1]
      const expected = tf.matMul(tf.reshape(d, [2, 3, -1]), J, false, true); // [2, 3, pL]
      expect(relErr(out.dataSync(), expected.dataSync())).toBeLessThan(1e-5);
      tf.dispose([x, d, out, J, expected]);
      cap.dispose();
    });
  });
}
