import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { captureForward, modelAnatomy, selectBackend } from '@taylorlens/core';
import {
  denseGrams, denseTail, layerJacobianTensor, neuronJacobianTensors, outputJacobians, patches, positions, scopeParams,
  taylorOutputs, type ScopeDescription,
} from '@taylorlens/plugin-regret';
import { bruteJacobianTensors, finiteDifferenceJacobianTensors, relErr, relErrSmooth } from './helpers/brute.js';
import { BIAS_FREE_NETS, dataFor, NETS, TANH_NET, TIED_NETS } from './helpers/nets.js';

function describeScope(kind: 'layer' | 'neurons', l: number, channels: number, fanIn: number, units?: number[]): ScopeDescription {
  const u = units ?? Array.from({ length: channels }, (_, i) => i);
  return {
    key: `${kind}:${l}`, kind, layer: null, layerIndex: l, units: kind === 'neurons' ? u : null, problems: kind === 'neurons' ? u.length : 1,
    params: kind === 'neurons' ? fanIn : fanIn * channels, method: 'rounds', every: 1, offset: 0, reservoir: null, subBatch: null,
  };
}

describe('per-sample Jacobian tensors', () => {
  beforeAll(async () => { await selectBackend('cpu'); });

  for (const net of [...NETS, TANH_NET, ...TIED_NETS, ...BIAS_FREE_NETS]) {
    it(`${net.name}: G of every neuron and layer scope equals per-output backward passes and finite differences`, () => {
      const model = net.make();
      const anatomy = modelAnatomy(model, { lossAbsorbs: net.loss.absorbs });
      const { x } = dataFor(net, 3, 5);
      const weights = anatomy.variables.map((v) => v.clone());
      const before = tf.memory().numTensors;
      const cap = captureForward(anatomy, x, { inputs: true, preActivations: true });
      const Js = outputJacobians(anatomy, cap, anatomy.layers.map((p) => p.index), 3);
      for (const p of anatomy.layers) {
        const J = Js.get(p.index)!;
        expect(J.shape).toEqual([3, anatomy.outputSize, ...p.outputShape]);
        const rows = patches(p, cap.layers[p.index].input!);
        expect(rows.shape).toEqual([3, positions(p), p.fanIn]);
        const units = p.channels > 1 ? [p.channels - 1, 0] : [0];
        for (const kind of ['neurons', 'layer'] as const) {
          const d = describeScope(kind, p.index, p.channels, p.fanIn, units);
          const ours = tf.tidy(() => (kind === 'layer' ? layerJacobianTensor(p, J, rows) : neuronJacobianTensors(p, J, rows, tf.tensor1d(units, 'int32'))));
          const v = scopeParams(anatomy, d);
          const brute = bruteJacobianTensors(anatomy, d, weights, x, v);
          expect(relErr(ours.dataSync(), brute)).toBeLessThan(1e-5);
          if (kind === 'neurons' || p.fanIn * p.channels <= 60) {
            expect(relErrSmooth(ours.dataSync(), finiteDifferenceJacobianTensors(anatomy, d, weights, x, v))).toBeLessThan(1e-2);
          }
          // The factored form (layer input + Jacobian) and the direct form (G) give the same Taylor outputs.
          const U = tf.randomNormal([d.problems, d.params], 0, 1, 'float32', 3) as tf.Tensor2D;
          const Jk = tf.tidy(() => {
            const Jp = tf.reshape(J, [3, anatomy.outputSize, positions(p), p.channels]);
            return kind === 'layer' ? Jp : tf.gather(Jp, tf.tensor1d(units, 'int32'), 3);
          });
          const factored = taylorOutputs(p, kind, { x: cap.layers[p.index].input!, J: Jk }, U);
          const Gs = tf.transpose(ours, [1, 0, 2, 3]);
          const direct = taylorOutputs(p, kind, { G: Gs }, U);
          expect(relErr(factored.dataSync(), direct.dataSync())).toBeLessThan(1e-5);
          tf.dispose([ours, v, U, Jk, factored, Gs, direct]);
        }
        rows.dispose();
      }
      // Gram recursion for dense tails: J_lᵀJ_l against the brute Jacobian (the bias columns of the layer's G).
      const dense = anatomy.layers.filter((p) => denseTail(anatomy, p.index));
      if (dense.length > 0) {
        // The recursion from the lowest dense layer gives every layer below the output; the output's own on request.
        const L = anatomy.layers.length - 1;
        const grams = denseGrams(anatomy, cap, dense[0].index, 3);
        if (!grams.has(L)) grams.set(L, denseGrams(anatomy, cap, L, 3).get(L)!);
        for (const p of dense.filter((q) => q.bias)) { // the bias columns of G hold J_l itself
          const d = describeScope('layer', p.index, p.channels, p.fanIn);
          const v = scopeParams(anatomy, d);
          const G = bruteJacobianTensors(anatomy, d, weights, x, v);
          const pL = anatomy.outputSize;
          const P = p.fanIn * p.channels;
          const brute = new Float32Array(3 * p.units * p.units);
          for (let b = 0; b < 3; b++) for (let i = 0; i < p.units; i++) for (let j = 0; j < p.units; j++) {
            let s = 0;
            for (let k = 0; k < pL; k++) s += G[(b * pL + k) * P + (p.fanIn - 1) * p.channels + i] * G[(b * pL + k) * P + (p.fanIn - 1) * p.channels + j];
            brute[(b * p.units + i) * p.units + j] = s;
          }
          expect(relErr(grams.get(p.index)!.dataSync(), brute)).toBeLessThan(1e-5);
          v.dispose();
        }
        for (const g of grams.values()) g.dispose();
      }
      for (const J of Js.values()) J.dispose();
      cap.dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, ...weights]);
    });
  }
});

describe('Gram diagonals for neuron scopes', () => {
  beforeAll(async () => { await selectBackend('cpu'); });

  it('bottom-layer-only diagonals and full-Gram diagonals equal ‖J[:, α]‖² from brute force', async () => {
    const { RoundJacobians, emptyPlan } = await import('@taylorlens/plugin-regret');
    const net = NETS[0];
    const anatomy = modelAnatomy(net.make(), { lossAbsorbs: null });
    const { x } = dataFor(net, 3, 8);
    const weights = anatomy.variables.map((v) => v.clone());
    const cap = captureForward(anatomy, x, { inputs: true, preActivations: true });
    anatomy.layers.forEach((p) => cap.derivative(p.index)); // memoised by the capture, disposed with it
    const before = tf.memory().numTensors;
    for (const grams of [[], [1]]) {
      const plan = emptyPlan();
      for (const l of [0, 1, 2]) plan.diagonals.add(l);
      for (const l of grams) plan.grams.add(l);
      const jac = new RoundJacobians(anatomy, cap, plan);
      await jac.prepare();
      for (const p of anatomy.layers) {
        const d = describeScope('layer', p.index, p.channels, p.fanIn);
        const v = scopeParams(anatomy, d);
        const G = bruteJacobianTensors(anatomy, d, weights, x, v);
        const pL = anatomy.outputSize;
        const P = p.fanIn * p.channels;
        const brute = new Float32Array(3 * p.units);
        for (let b = 0; b < 3; b++) for (let a = 0; a < p.units; a++) {
          let s = 0;
          for (let k = 0; k < pL; k++) s += G[(b * pL + k) * P + (p.fanIn - 1) * p.channels + a] ** 2;
          brute[b * p.units + a] = s;
        }
        expect(relErr(jac.gramDiagonal(p.index).dataSync(), brute)).toBeLessThan(1e-5);
        v.dispose();
      }
      jac.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    cap.dispose();
    tf.dispose([x, ...weights]);
  });
});
