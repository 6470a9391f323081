// Issue 13, "The Trainer trains any tf.LayersModel": with no plugin the Trainer must train every
// model model.fit can, with the same weights as a hand-written loop. Three whole models beyond the
// paper's chains: a ResNet-style block (strided conv, BatchNormalization, a residual add with a
// strided 1×1 shortcut, global average pooling), a MobileNet-style block (depthwise and separable
// convolutions, BN, relu6) and an MLP with LeakyReLU, seeded Dropout and PReLU trained on class
// indices (sparse cross-entropy).
//
// What is compared, and how exactly:
//  - logits / linear outputs with the Trainer's own loss: the Trainer without plugins applies every
//    layer as it is (`layer.apply(x, { training: true })`, as `model.apply` does) and steps with
//    the same optimizer on the gradient of the same loss, so the weights (every one of them,
//    BatchNormalization's moving statistics included: both update them the same way) must be
//    bit-identical to a hand-written `optimizer.minimize(() => loss(model.apply(x, {training: true}), y))`
//    loop and to `model.fit` with that loss (fit's extra `mean` of a scalar is exact).
//  - softmax outputs compiled with tfjs's own losses (categorical / sparse categorical
//    cross-entropy): the Trainer absorbs the softmax and steps on softmax cross-entropy of the
//    logits, tfjs on −log(clip(softmax)): the same function rounded differently, so the weights
//    agree to float32 rounding only (tolerance below, with the measured gap).
//  - Dropout: a seeded tfjs Dropout draws the same mask on every call of the same shape (its seed
//    is fixed per layer), so the Trainer and the loop drop the same units and the rate stays 0.25.
//    An unseeded Dropout would draw different masks in the two runs; nothing here compares that.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { instrument, meanSquaredError, selectBackend, softmaxCrossEntropy, sparseSoftmaxCrossEntropy, Trainer, type TaylorLoss } from '@taylorlens/core';
import { labelData, leakyMlp, maxAbsDiff, mobilenetBlock, randomData, resnetBlock, weightsOf } from './helpers/models.js';

const BATCH = 4;
const SAMPLES = 12; // three rounds per epoch
const EPOCHS = 3;

interface Case {
  name: string;
  /** The model with a linear output (logits for the cross-entropies). */
  linear: () => tfl.LayersModel;
  /** The same model with a softmax output, and the tfjs loss it is compiled with. */
  softmax: () => tfl.LayersModel;
  compiled: string;
  /** The Trainer's loss on the linear output. */
  loss: TaylorLoss;
  optimizer: () => tf.Optimizer;
  data: () => { x: tf.Tensor; y: tf.Tensor };
}

const CASES: Case[] = [
  {
    name: 'ResNet-style block (graph: strided conv, BN, residual add with a 1×1/2 shortcut, GAP), Adam',
    linear: () => resnetBlock(3, { output: 'linear' }), softmax: () => resnetBlock(3), compiled: 'categoricalCrossentropy',
    loss: softmaxCrossEntropy, optimizer: () => tf.train.adam(0.02), data: () => randomData(SAMPLES, [6, 6, 2], 3, 5, true),
  },
  {
    name: 'MobileNet-style block (depthwise, BN, relu6, separable conv with relu6, GAP), SGD',
    linear: () => mobilenetBlock(4, { output: 'linear' }), softmax: () => mobilenetBlock(4), compiled: 'categoricalCrossentropy',
    loss: meanSquaredError, optimizer: () => tf.train.sgd(0.1), data: () => randomData(SAMPLES, [6, 6, 2], 3, 6, true),
    // The depthwise conv's input gradient (the conv below it has parameters): tfjs-backend-wasm 4.22 has no such kernel.
  },
  {
    name: 'MLP with LeakyReLU, seeded Dropout 0.25 and PReLU, class-index targets, RMSProp',
    linear: () => leakyMlp(5, { output: 'linear' }), softmax: () => leakyMlp(5), compiled: 'sparseCategoricalCrossentropy',
    loss: sparseSoftmaxCrossEntropy, optimizer: () => tf.train.rmsprop(0.01), data: () => labelData(SAMPLES, [5], 3, 8),
    // tfjs-backend-wasm's OneHot ignores its dtype argument: `tf.oneHot(i, K, 1, 0, 'float32')`
    // holds the int32 bits of 1 (1.4e-45 as float32), so the loss's one-hot rows are ~0 and ℓ ≈ 1e-45:
    // the Trainer does not train (measured: no weight moves).
  },
];

/** The same batches in the same order (shuffle false), tfjs's own minimize. */
async function handWritten(m: tfl.LayersModel, opt: tf.Optimizer, lossOf: (f: tf.Tensor, y: tf.Tensor) => tf.Scalar, x: tf.Tensor, y: tf.Tensor): Promise<void> {
  for (let e = 0; e < EPOCHS; e++) {
    for (let s = 0; s < SAMPLES; s += BATCH) {
      const [xb, yb] = [tf.slice(x, s, BATCH), tf.slice(y, s, BATCH)];
      opt.minimize(() => lossOf(m.apply(xb, { training: true }) as tf.Tensor, yb));
      tf.dispose([xb, yb]);
    }
  }
}

const bitEqual = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

type Compiled = { lossFunctions: ((y: tf.Tensor, p: tf.Tensor) => tf.Tensor)[]; model?: Compiled };
/** The loss function tfjs compiled (a Sequential keeps it on its inner model). */
const tfjsLoss = (m: tfl.LayersModel) => ((m as unknown as Compiled).model ?? (m as unknown as Compiled)).lossFunctions[0];

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`the Trainer with no plugin trains any model as a hand-written loop does (${backend})`, () => {
    beforeAll(async () => { await selectBackend(backend); });

    for (const c of CASES) {
      it(`${c.name}, ${c.loss.name} on the linear output: bit-identical weights to a hand-written loop${c.loss.targets === 'sparse' ? '' : ' and to model.fit'}`, async () => {
        const { x, y } = c.data();
        const [a, b, m] = [c.linear(), c.linear(), c.linear()];
        const [oa, ob] = [c.optimizer(), c.optimizer()];
        const initial = await weightsOf(a);
        const trainer = new Trainer(a, { loss: c.loss, optimizer: oa });
        expect(trainer.anatomy.absorbedOutputActivation).toBeNull();
        const summary = await trainer.fit(x, y, { epochs: EPOCHS, batchSize: BATCH, shuffle: false });
        expect(summary.rounds).toBe(EPOCHS * SAMPLES / BATCH);
        await handWritten(b, ob, (f, t) => c.loss.compute(f, t), x, y);
        // model.fit checks targets against the output's shape unless the loss is tfjs's own sparse
        // one by name: class indices with a custom loss cannot go through it (the loop can).
        const viaFit = c.loss.targets !== 'sparse';
        if (viaFit) {
          m.compile({ loss: (t: tf.Tensor, f: tf.Tensor) => c.loss.compute(f, t), optimizer: c.optimizer() });
          await m.fit(x, y, { epochs: EPOCHS, batchSize: BATCH, shuffle: false, verbose: 0 });
        }
        const [wa, wb, wm] = [await weightsOf(a), await weightsOf(b), await weightsOf(m)];
        expect(wa.length).toBe(a.getWeights().length);
        // It trained: every trainable weight moved (BN's moving statistics too).
        wa.forEach((w, i) => expect(maxAbsDiff(w, initial[i])).toBeGreaterThan(0));
        wa.forEach((w, i) => expect(bitEqual(w, wb[i]), `weight ${a.weights[i].name}: hand-written loop, max |Δ| ${maxAbsDiff(w, wb[i])}`).toBe(true));
        if (viaFit) wa.forEach((w, i) => expect(bitEqual(w, wm[i]), `weight ${a.weights[i].name}: model.fit, max |Δ| ${maxAbsDiff(w, wm[i])}`).toBe(true));
        [a, b, m].forEach((mm) => mm.dispose());
        tf.dispose([x, y]);
        [oa, ob].forEach((o) => o.dispose());
      });

      // The softmax output as compiled: the Trainer absorbs the softmax (cross-entropy of the
      // logits), tfjs steps on log(clip(softmax)). SGD here, not the case's optimizer: the ResNet's
      // second conv has a bias right before BatchNormalization, whose gradient is exactly zero in
      // exact arithmetic (the batch mean removes it) and rounding noise (~1e-9) in float32; Adam
      // divides that noise by its own root mean square and steps ±lr on it (measured: 0.043 apart
      // after 9 steps), SGD keeps it at 1e-9. With SGD, measured at most 1.2e-7 apart after 9 steps
      // (both backends), hence 2e-6.
      it(`${c.name}, softmax output compiled with ${c.compiled}: ℓ_1 and the weights of a hand-written loop with tfjs's loss and of model.fit, to float32 rounding`, async () => {
        const { x, y } = c.data();
        const yf = y.dtype === 'int32' ? tf.cast(y, 'float32') : y; // tfjs's sparse loss takes float labels
        const [a, b, m] = [c.softmax(), c.softmax(), c.softmax()];
        m.compile({ loss: c.compiled, optimizer: tf.train.sgd(0.1) });
        b.compile({ loss: c.compiled, optimizer: tf.train.sgd(0.1) });
        const oa = tf.train.sgd(0.1);
        const trainer = new Trainer(a, { loss: c.compiled, optimizer: oa });
        expect(trainer.anatomy.absorbedOutputActivation).toBe('softmax');
        const losses: number[] = [];
        trainer.events.on('round', (r) => losses.push(r.loss as number));
        const lossFn = tfjsLoss(b);
        // ℓ_1: the Trainer's loss of the first batch at the initial weights is tfjs's compiled loss
        // there, in training mode (a fresh copy: training mode moves BN's moving statistics).
        const fresh = c.softmax();
        const first = tf.tidy(() => tf.mean(lossFn(tf.slice(yf, 0, BATCH), fresh.apply(tf.slice(x, 0, BATCH), { training: true }) as tf.Tensor)).dataSync()[0]);
        fresh.dispose();
        await trainer.fit(x, y, { epochs: EPOCHS, batchSize: BATCH, shuffle: false });
        expect(Math.abs(losses[0] - first) / first, `ℓ_1 ${losses[0]}, tfjs ${first}`).toBeLessThan(1e-5);
        await handWritten(b, (b as unknown as { optimizer: tf.Optimizer }).optimizer, (f, t) => tf.mean(lossFn(t, f)) as tf.Scalar, x, yf);
        await m.fit(x, yf, { epochs: EPOCHS, batchSize: BATCH, shuffle: false, verbose: 0 });
        const [wa, wb, wm] = [await weightsOf(a), await weightsOf(b), await weightsOf(m)];
        let gap = 0;
        wa.forEach((w, i) => {
          gap = Math.max(gap, maxAbsDiff(w, wb[i]), maxAbsDiff(w, wm[i]));
          // The loop and model.fit are the same computation in tfjs: bit for bit.
          expect(bitEqual(wb[i], wm[i]), `weight ${b.weights[i].name}: loop vs model.fit`).toBe(true);
        });
        expect(gap).toBeLessThan(2e-6);
        [a, b, m].forEach((mm) => mm.dispose());
        if (yf !== y) yf.dispose();
        tf.dispose([x, y]);
        oa.dispose();
      });
    }

    it('the seeded Dropout really drops: its training output differs from its input, and it draws the same mask on every call', () => {
      const m = leakyMlp(5);
      const drop = m.layers[2];
      tf.tidy(() => {
        const ones = tf.ones([BATCH, 6]);
        const first = drop.apply(ones, { training: true }) as tf.Tensor;
        const second = drop.apply(ones, { training: true }) as tf.Tensor;
        expect(tf.sum(tf.equal(first, 0)).dataSync()[0]).toBeGreaterThan(0);
        expect(tf.all(tf.equal(first, second)).dataSync()[0]).toBe(1);
      });
      m.dispose();
    });
  });
}

describe('instrument() beside the user\'s own step leaves the model as the step leaves it', () => {
  it('BatchNormalization\'s moving statistics move once per round (the user\'s step), not twice: every weight bit-identical to the same loop without taylorlens', async () => {
    await selectBackend('cpu');
    const { x, y } = randomData(16, [6, 6, 2], 3, 5);
    const run = async (instrumented: boolean) => {
      const m = resnetBlock(3, { output: 'linear' });
      const opt = tf.train.sgd(0.1);
      const lens = instrumented ? instrument(m, { loss: softmaxCrossEntropy, optimizer: opt }) : null;
      // The captures the regret plugin asks for: taylorlens runs a pass of its own at W_n.
      lens?.trainer.require({ inputs: true, preActivations: true, preActivationGrads: true });
      for (let s = 0; s < 16; s += 4) {
        const [xb, yb] = [tf.slice(x, s, 4), tf.slice(y, s, 4)];
        const step = () => opt.minimize(() => softmaxCrossEntropy.compute(m.apply(xb, { training: true }) as tf.Tensor, yb));
        if (lens) await lens.round(xb, yb, step); else step();
        tf.dispose([xb, yb]);
      }
      await lens?.end();
      const w = await weightsOf(m);
      m.dispose();
      opt.dispose();
      return w;
    };
    const plain = await run(false);
    const seen = await run(true);
    expect(seen).toHaveLength(plain.length);
    seen.forEach((w, i) => expect(maxAbsDiff(w, plain[i]), `weight ${i}`).toBe(0));
    tf.dispose([x, y]);
  });
});
