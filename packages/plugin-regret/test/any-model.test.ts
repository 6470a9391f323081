// Issue 13, regret on whole models beyond the paper's chains: a ResNet-style block (a graph with
// a residual add), a MobileNet-style block (depthwise/separable convolutions, relu6) and an MLP
// with LeakyReLU, Dropout and PReLU on class indices. At layer and neuron scope (the scopes exist
// for Dense/Conv2D layers; every other parameter — BN's γ/β, depthwise kernels, PReLU's α — is
// held at W_n), against brute force through the real tfjs layers (helpers/brute.ts):
// τ^n(W_n) = ℓ_n, ∇τ^n(W_n), Σ τ^n at W_{n+1}, at a later and a random point, the trace's
// τ^n(W_{n+1}), convexity, and the checkpoint optimum against a direct minimisation over the
// stored rounds.
//
// BatchNormalization in training mode is linearised with the round's batch statistics frozen
// (core's derivatives/normalization.ts): the brute force evaluates BN as the affine map with the
// batch mean and variance of W_n (helpers/brute.ts `freezeRound`), so the Jacobian it checks is
// that of the frozen-statistics network, and ∇τ^n(W_n) equals the gradient of the loss with the
// statistics held fixed — not the gradient training steps on, which also flows through the batch
// mean and variance (the last test shows the two apart). Dropout is checked with the round's mask
// (the one the instrumented pass drew and trained with).
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { meanSquaredError, selectBackend, softmaxCrossEntropy, sparseSoftmaxCrossEntropy, Trainer } from '@taylorlens/core';
import { RegretPlugin } from '@taylorlens/plugin-regret';
import { labelData, leakyMlp, mobilenetBlock, randomData, resnetBlock } from '../../core/test/helpers/models.js';
import { forwardWith, heldAt, relErr, withScope } from './helpers/brute.js';
import { disposeRounds, keepRounds, type NetCase } from './helpers/nets.js';
import { checkOptimum } from './helpers/optimum-check.js';
import { displacement, taylorSums } from './helpers/scopes.js';
import { checkTaylor } from './helpers/taylor-check.js';

const NO_NETWORK = { enabled: false };

const ANY_MODEL_NETS: NetCase[] = [
  {
    name: 'ResNet-style block (strided conv, BN, residual add with a 1×1/2 shortcut, GAP), cross-entropy',
    make: () => resnetBlock(3), input: [6, 6, 2], loss: softmaxCrossEntropy, classes: 3,
  },
  {
    name: 'ResNet-style block, linear output, squared error (running statistics)',
    make: () => resnetBlock(7, { output: 'linear' }), input: [6, 6, 2], loss: meanSquaredError, classes: 3,
  },
  {
    name: 'MobileNet-style block (depthwise, BN, relu6, separable conv + relu6, GAP), squared error',
    make: () => mobilenetBlock(4, { output: 'linear' }), input: [6, 6, 2], loss: meanSquaredError, classes: 3,
  },
  {
    name: 'MLP with LeakyReLU, Dropout 0.25 and PReLU, sparse cross-entropy on class indices',
    make: () => leakyMlp(5), input: [5], loss: sparseSoftmaxCrossEntropy, classes: 3,
    data: (n, seed) => labelData(n, [5], 3, seed),
  },
];


const TAYLOR = { network: NO_NETWORK, layers: { every: 1 }, neurons: { perLayer: 2, subBatch: null, every: 1 }, budget: { maxOverhead: 1e6 }, trace: false };
const OPTIMUM = { ...TAYLOR, neurons: { perLayer: 1, subBatch: null, every: 1 }, solver: { gapTolerance: 1e-7, maxIterations: 300 } };

describe('regret at layer and neuron scope on whole models, against brute force (cpu)', () => {
  beforeAll(async () => { await selectBackend('cpu'); });

  for (const net of ANY_MODEL_NETS) {
    it(`${net.name}: τ(W_n) = ℓ_n, ∇τ(W_n) (statistics frozen), Σ τ^n at W_{n+1} and elsewhere against per-output backward passes`, () => checkTaylor(net, TAYLOR));
    it(`${net.name}: the checkpoint optimum equals a direct minimisation over the stored rounds, lies in the ball and beats every trajectory point`, () => checkOptimum(net, OPTIMUM));
  }

  it('the network scope refuses each of them with a clear error (graph, or parameters outside Dense/Conv2D)', () => {
    const reasons = [/chain models only/, /moves Dense\/Conv2D parameters only; layer ".*" \(DepthwiseConv2D\)/, /moves Dense\/Conv2D parameters only; layer ".*" \(PReLU\)/];
    [ANY_MODEL_NETS[0], ANY_MODEL_NETS[2], ANY_MODEL_NETS[3]].forEach((net, i) => {
      const model = net.make();
      const optimizer = tf.train.sgd(0.1);
      expect(() => new Trainer(model, { loss: net.loss, optimizer, plugins: [new RegretPlugin({ network: { every: 1 } })] })).toThrow(reasons[i]);
      expect(() => new Trainer(model, { loss: net.loss, optimizer, plugins: [new RegretPlugin({ network: { every: 1 } })] })).toThrow(/set network\.enabled: false/);
      model.dispose();
      optimizer.dispose();
    });
  });

  it('BatchNormalization: ∇τ(W_n) is the gradient with the batch statistics held fixed, not the gradient training steps on (a bias right before BN has a zero training gradient)', async () => {
    const model = resnetBlock(3);
    const plugin = new RegretPlugin({ network: NO_NETWORK, neurons: { enabled: false }, layers: { layers: [1], every: 1 }, budget: { maxOverhead: 1e6 }, trace: false });
    plugin.retain = true;
    const optimizer = tf.train.sgd(0.3);
    const trainer = new Trainer(model, { loss: softmaxCrossEntropy, optimizer, plugins: [plugin] });
    const kept = keepRounds(trainer);
    const { x, y } = randomData(3, [6, 6, 2], 3, 9, true);
    await trainer.fit(x, y, { epochs: 1, batchSize: 3, shuffle: false });
    const r = kept[0];
    const scope = plugin.scopes[0];
    const p = trainer.anatomy.layers[1];
    expect(scope.desc.layer).toBe(p.name); // the second conv: 27 kernel rows and a bias row, 3 channels
    const v1 = scope.readParams(r.before);
    const ours = (await taylorSums(scope, displacement(scope, v1))).grads[0];
    const gradient = (frozen: boolean) => heldAt(trainer.anatomy, r.before, () => tf.tidy(() => tf.grad((v: tf.Tensor) => trainer.loss.compute(
      forwardWith(trainer.anatomy, withScope(trainer.anatomy, scope.desc, r.before, v), r.x, frozen ? r.frozen : undefined), r.y))(v1).dataSync()));
    const fixedStats = gradient(true);
    const training = gradient(false);
    expect(relErr(ours, fixedStats)).toBeLessThan(1e-4);
    // Θ is [fanIn, channels] row-major: the last `channels` entries are the bias row.
    const bias = (g: ArrayLike<number>) => Array.from(g).slice(-p.channels);
    expect(Math.max(...bias(training).map(Math.abs))).toBeLessThan(1e-6);
    expect(Math.max(...bias(fixedStats).map(Math.abs))).toBeGreaterThan(1e-3);
    expect(relErr(ours, training)).toBeGreaterThan(1e-2);
    tf.dispose(v1);
    plugin.dispose();
    disposeRounds(kept);
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
  });
});

// On wasm: the three models (the MobileNet-style block trains there through core's depthwise
// gradient kernels, the MLP's sparse cross-entropy through a cast of tf.oneHot, which ignores its
// dtype on wasm).
describe('regret on whole models, against brute force (wasm)', () => {
  beforeAll(async () => { await selectBackend('wasm'); });
  for (const net of ANY_MODEL_NETS) {
    it(`${net.name}: the Taylor checks`, () => checkTaylor(net, TAYLOR));
    it(`${net.name}: the checkpoint optimum`, () => checkOptimum(net, OPTIMUM));
  }
});
