// The derivatives registry (packages/core/src/derivatives/registry.ts): third-party layers with
// `registerDerivatives`, the autodiff fallback for a layer without parameters that nobody
// registered (exact), and clear refusals (a custom layer with weights and no module, recurrent
// layers). Jacobians are checked as in derivatives-layers.test.ts (helpers/derivatives-check.ts),
// which also asserts that a capture + every Jacobian + dispose leaks no tensor.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  assertLinearisable, captureForward, derivativesFor, modelAnatomy, perSampleJacobian, registerDerivatives,
  registeredLayerClasses, selectBackend, Trainer, type LayerDerivatives,
} from '@taylorlens/core';
import { checkJacobians, nodesOf } from './helpers/derivatives-check.js';
import { chain, dense, merged, normal, TimesWeight } from './helpers/derivative-nets.js';

const one = (inputs: tf.Tensor | tf.Tensor[]) => (Array.isArray(inputs) ? inputs[0] : inputs);

/** "Scale by 2 then abs": no parameters. Two classes, one never registered and one registered. */
class ScaleAbs extends tfl.layers.Layer {
  static className = 'ScaleAbs';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor { return tf.tidy(() => tf.abs(tf.mul(one(inputs), 2))); }
}
tf.serialization.registerClass(ScaleAbs);

class ScaleAbsRegistered extends ScaleAbs {
  static override className = 'ScaleAbsRegistered';
}
tf.serialization.registerClass(ScaleAbsRegistered);


let pushes = 0;
const scaleAbsModule: LayerDerivatives = {
  kind: 'scale by 2 then abs',
  freeze: (_layer, r) => ({ sample: { slope: tf.mul(tf.sign(r.inputs[0]), 2) } }),
  push(_layer, state, d) {
    pushes++;
    return d[0] ? tf.mul(d[0], tf.expandDims(state!.sample.slope, 1)) : null;
  },
};

for (const backend of ['cpu', 'wasm']) {
  describe(`the derivatives registry on ${backend}`, () => {
    beforeAll(async () => { await selectBackend(backend); });

    it('a custom layer without parameters that nobody registered goes through the autodiff fallback, exactly', () => {
      const model = chain([5], [dense(6, 1), new ScaleAbs({}), dense(3, 2)]);
      const anatomy = modelAnatomy(model);
      const node = nodesOf(anatomy, 'ScaleAbs')[0];
      expect(node.role).toBe('derivatives');
      expect(node.via).toBe('autodiff');
      expect(anatomy.describe()).toMatch(/\(ScaleAbs\).*autodiff fallback: exact, slower/);
      const x = normal([3, 5], 1);
      checkJacobians(model, x);
      x.dispose();
    });

    it('a run that needs the clamped machinery says which layers go through the fallback (a warning on the bus, once)', async () => {
      const model = chain([5], [dense(6, 1), new ScaleAbs({}), dense(3, 2)]);
      const warnings: string[] = [];
      const quiet = new Trainer(model, { loss: 'meanSquaredError', optimizer: tf.train.sgd(0.01) });
      quiet.events.on('warning', (w) => warnings.push(w.message));
      const x = normal([4, 5], 3);
      const y = normal([4, 3], 4);
      await quiet.fit(x, y, { epochs: 1, batchSize: 2 });
      expect(warnings).toEqual([]); // nothing asked for the Taylor machinery
      const asked = new Trainer(model, { loss: 'meanSquaredError', optimizer: tf.train.sgd(0.01) });
      asked.require({ preActivations: true });
      asked.events.on('warning', (w) => warnings.push(w.message));
      await asked.fit(x, y, { epochs: 1, batchSize: 2 });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/\(ScaleAbs\): no derivatives module, so the Taylor machinery goes through the autodiff fallback .*registerDerivatives\("ScaleAbs"/);
      tf.dispose([x, y]);
    });

    it('a built-in layer nobody registered (Dot) goes through the autodiff fallback, exactly', () => {
      const model = merged([5], [[dense(4, 1, 'tanh')], [dense(4, 2)]], tfl.layers.dot({ axes: -1 }), [dense(3, 3)]);
      const anatomy = modelAnatomy(model);
      expect(nodesOf(anatomy, 'Dot')[0].via).toBe('autodiff');
      const x = normal([3, 5], 2);
      checkJacobians(model, x);
      x.dispose();
    });

    it('registerDerivatives: a registered module is used for its class, and is exact', () => {
      registerDerivatives('ScaleAbsRegistered', scaleAbsModule);
      expect(registeredLayerClasses()).toContain('ScaleAbsRegistered');
      const model = chain([5], [dense(6, 1), new ScaleAbsRegistered({}), dense(3, 2)]);
      const anatomy = modelAnatomy(model);
      const node = nodesOf(anatomy, 'ScaleAbsRegistered')[0];
      expect(node.via).toBe('registered');
      expect(node.derivatives).toBe(scaleAbsModule);
      expect(anatomy.describe()).toMatch(/\(ScaleAbsRegistered\).*scale by 2 then abs/);
      expect(anatomy.describe()).not.toMatch(/autodiff/);
      pushes = 0;
      const x = normal([3, 5], 3);
      checkJacobians(model, x);
      expect(pushes).toBeGreaterThan(0);
      x.dispose();
    });

    it('registerDerivatives refuses a module without push', () => {
      expect(() => registerDerivatives('Nothing', {} as LayerDerivatives)).toThrow(/registerDerivatives\("Nothing"\).*push/);
    });

    it('a custom layer with weights and no module is a problem naming it, and assertLinearisable refuses with its name, class and registerDerivatives', () => {
      const layer = new TimesWeight({ name: 'my_scaler' });
      const model = chain([5], [dense(6, 1), layer, dense(3, 2)]);
      expect(derivativesFor(layer)).toMatchObject({ module: null });
      const anatomy = modelAnatomy(model);
      expect(nodesOf(anatomy, 'TimesWeight')[0].role).toBe('unsupported');
      expect(anatomy.problems).toHaveLength(1);
      expect(anatomy.problems[0]).toMatch(/"my_scaler" \(TimesWeight\).*registerDerivatives\("TimesWeight"/);
      expect(anatomy.describe()).toMatch(/my_scaler \(TimesWeight\).*UNSUPPORTED/);
      expect(() => assertLinearisable(anatomy, 'regret')).toThrow(/regret cannot instrument this model:[\s\S]*"my_scaler" \(TimesWeight\)[\s\S]*registerDerivatives/);
      // The Jacobian itself refuses too, never a silent answer.
      const cap = captureForward(anatomy, normal([2, 5], 4));
      expect(() => perSampleJacobian(anatomy, cap, 0, 'forward')).toThrow(/"my_scaler" \(TimesWeight\) cannot be linearised/);
      cap.dispose();
    });

    for (const [cls, make] of [
      // (tfjs-layers' default orthogonal initialiser fails without the union package: glorot instead.)
      ['SimpleRNN', () => tfl.layers.simpleRNN({ units: 3, name: 'my_rnn', recurrentInitializer: 'glorotUniform' })],
      ['LSTM', () => tfl.layers.lstm({ units: 3, name: 'my_rnn', recurrentInitializer: 'glorotUniform' })],
    ] as const) {
      it(`a recurrent layer (${cls}) is refused clearly`, () => {
        const model = chain([4, 3], [dense(3, 1, 'relu'), make(), dense(2, 2)]);
        const anatomy = modelAnatomy(model);
        expect(anatomy.problems).toEqual([`layer "my_rnn" (${cls}): recurrent layers are not supported yet`]);
        expect(() => assertLinearisable(anatomy, 'regret')).toThrow(new RegExp(`"my_rnn" \\(${cls}\\): recurrent layers are not supported`));
      });
    }

    it('no tensor leaks: capture, forward and reverse Jacobians of every scoped layer, dispose', () => {
      const model = chain([4, 4, 2], [
        tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tfl.layers.dropout({ rate: 0.3 }), tfl.layers.maxPooling2d({ poolSize: 2 }), tfl.layers.batchNormalization(),
        new ScaleAbs({}), tfl.layers.flatten(), dense(3, 2),
      ]);
      const anatomy = modelAnatomy(model);
      const x = normal([2, 4, 4, 2], 5);
      const before = tf.memory().numTensors;
      for (let round = 0; round < 2; round++) {
        const cap = captureForward(anatomy, x);
        for (let l = 0; l < anatomy.layers.length; l++) {
          tf.dispose([perSampleJacobian(anatomy, cap, l, 'forward'), perSampleJacobian(anatomy, cap, l, 'reverse')]);
        }
        cap.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    });
  });
}
