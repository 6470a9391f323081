// Issue 13, regret on whole models beyond the paper's chains: a ResNet-style block (a graph with
// a residual add), a MobileNet-style block (depthwise/separable convolutions, relu6) and an MLP
// with LeakyReLU, Dropout and PReLU on class indices. At layer and neuron scope (the scopes exist
// for Dense, Conv2D, Conv1D, DepthwiseConv2D, SeparableConv2D (layer: both kernels and the bias;
// neuron: a pointwise column and its bias, the depthwise kernel held at W_n), Conv2DTranspose,
// BatchNormalization γ/β, LayerNormalization γ/β, PReLU α and Embedding), against brute force through the real tfjs layers
// (helpers/brute.ts):
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
import { selectBackend, softmaxCrossEntropy, STAGE_ANALYZE, Trainer } from '@taylorlens/core';
import { NetworkScope, RegretPlugin, resolveScopes } from '@taylorlens/plugin-regret';
import { randomData, resnetBlock } from '../../core/test/helpers/models.js';
import { forwardWith, heldAt, relErr, withScope } from './helpers/brute.js';
import { disposeRounds, keepRounds } from './helpers/nets.js';
import { checkOptimum } from './helpers/optimum-check.js';
import { displacement, taylorSums } from './helpers/scopes.js';
import { checkTaylor } from './helpers/taylor-check.js';
import { ANY_MODEL_NETS, NO_NETWORK, OPTIMUM, TAYLOR } from './helpers/any-model-nets.js';


describe('regret at layer and neuron scope on whole models, against brute force (cpu)', () => {
  beforeAll(async () => { await selectBackend('cpu'); });

  for (const net of ANY_MODEL_NETS) {
    it(`${net.name}: τ(W_n) = ℓ_n, ∇τ(W_n) (statistics frozen), Σ τ^n at W_{n+1} and elsewhere against per-output backward passes`, () => checkTaylor(net, TAYLOR));
    if (net.optimum !== false && !net.slowOptimum) it(`${net.name}: the checkpoint optimum equals a direct minimisation over the stored rounds, lies in the ball and beats every trajectory point`, () => checkOptimum(net, OPTIMUM));
  }

  it('every parameterised layer of these models has a layer scope moving all its trainable parameters, and neuron scopes of fan-in size', () => {
    const kinds = new Set<string>();
    for (const net of ANY_MODEL_NETS) {
      const model = net.make();
      const optimizer = tf.train.sgd(0.1);
      const plugin = new RegretPlugin({ ...TAYLOR });
      const trainer = new Trainer(model, { loss: net.loss, optimizer, plugins: [plugin] });
      const scopes = resolveScopes(trainer.anatomy, plugin.options, null);
      for (const p of trainer.anatomy.layers) {
        kinds.add(p.kind);
        const trainable = p.layer.trainableWeights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
        // BatchNormalization's countParams() also counts its moving mean and variance (not trained).
        if (p.kind !== 'batchNormalization') expect(trainable).toBe(p.layer.countParams());
        expect(scopes.find((d) => d.key === `layer:${p.name}`)?.params, p.name).toBe(trainable);
        // A SeparableConv2D neuron: its pointwise column and bias (the depthwise kernel is shared by all channels).
        const own = p.depthwise ? trainable - p.depthwise.size : trainable;
        expect(scopes.find((d) => d.key === `neurons:${p.name}`)?.params, p.name).toBe(own / p.channels);
      }
      // Nothing stays held at W_n.
      expect(trainer.anatomy.otherVariables).toEqual([]);
      plugin.dispose();
      model.dispose();
      optimizer.dispose();
    }
    expect([...kinds].sort()).toEqual(['batchNormalization', 'conv1d', 'conv2d', 'conv2dTranspose', 'dense', 'depthwiseConv2d', 'embedding', 'layerNormalization', 'prelu', 'separableConv2d']);
  });

  it('with the default options (the network scope on) each model trains; its network scope moves every trainable weight and stores each round as recorded', async () => {
    for (const net of ANY_MODEL_NETS) {
      const model = net.make();
      const optimizer = tf.train.sgd(0.1);
      const plugin = new RegretPlugin();
      plugin.retain = true;
      const trainer = new Trainer(model, { loss: net.loss, optimizer, plugins: [plugin] });
      const { x, y } = net.data ? net.data(6, 4) : randomData(6, net.input, net.classes, 4, true);
      await trainer.fit(x, y, { epochs: 1, batchSize: 3, shuffle: false });
      const network = plugin.scopes.find((s) => s.desc.kind === 'network') as NetworkScope;
      expect(network.storage, net.name).toBe('stored');
      expect(network.desc.params, net.name).toBe(model.trainableWeights.reduce((t, w) => t + w.shape.reduce((a, b) => a * b, 1), 0));
      const ckpt = plugin.results.scopes[network.desc.key].checkpoints.at(-1)!;
      expect(ckpt.recordedRounds, net.name).toBe(1); // round 1 of every 100
      expect(Number.isFinite(ckpt.ball.regret[0]), net.name).toBe(true);
      // The cost report's bytes per stored round (a rough model) within a factor 2 of what was stored.
      const estimate = plugin.results.cost!.scopes.find((c) => c.key === network.desc.key)!.bytesPerRecordedRound;
      expect(estimate / network.lastRoundBytes, net.name).toBeGreaterThan(0.5);
      expect(estimate / network.lastRoundBytes, net.name).toBeLessThan(2);
      plugin.dispose();
      tf.dispose([x, y]);
      model.dispose();
      optimizer.dispose();
    }
  });

  it('BatchNormalization: ∇τ(W_n) is the gradient with the batch statistics held fixed, not the gradient training steps on (a bias right before BN has a zero training gradient)', async () => {
    const model = resnetBlock(3);
    // Scoped layers: conv, BN, conv, BN, shortcut conv, dense: [2] is the second conv.
    const plugin = new RegretPlugin({ network: NO_NETWORK, neurons: { enabled: false }, layers: { layers: [2], every: 1 }, budget: { maxOverhead: 1e6 }, trace: false });
    plugin.retain = true;
    const optimizer = tf.train.sgd(0.3);
    const trainer = new Trainer(model, { loss: softmaxCrossEntropy, optimizer, plugins: [plugin] });
    const kept = keepRounds(trainer);
    const { x, y } = randomData(3, [6, 6, 2], 3, 9, true);
    await trainer.fit(x, y, { epochs: 1, batchSize: 3, shuffle: false });
    const r = kept[0];
    const scope = plugin.scopes[0];
    const p = trainer.anatomy.layers[2];
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
// Their checkpoint optima on wasm (a direct minimisation each, 80 s in all) are in the slow tier:
// any-model-wasm.slow.test.ts.
describe('regret on whole models, against brute force (wasm)', () => {
  beforeAll(async () => { await selectBackend('wasm'); });
  for (const net of ANY_MODEL_NETS.filter((n) => !n.cpuOnly)) it(`${net.name}: the Taylor checks`, () => checkTaylor(net, TAYLOR));
});

// The scoped kinds beyond Dense/Conv2D (the nets after the two ResNet-style ones, which the slow
// 500-round test covers) leave no tensor behind and keep a run's peak tensor count
// independent of its length (layer and neuron scopes every round, a sub-batch, the per-round reading).
describe('bounded memory with the scoped layers beyond Dense/Conv2D (cpu)', () => {
  beforeAll(async () => { await selectBackend('cpu'); });
  for (const net of ANY_MODEL_NETS.slice(2)) {
    it(`${net.name}: tf.memory().numTensors is flat`, async () => {
      const { x, y } = net.data ? net.data(12, 2) : randomData(12, net.input, net.classes, 2, true);
      const peak: number[] = [];
      for (const epochs of [2, 4]) {
        const model = net.make();
        const optimizer = tf.train.sgd(0.1);
        const trainer = new Trainer(model, { loss: net.loss, optimizer });
        await trainer.fit(x, y, { epochs: 1, batchSize: 3 }); // the optimizer's own state, before counting
        const before = tf.memory().numTensors;
        const plugin = new RegretPlugin({
          network: { every: 2 }, layers: { every: 1 }, neurons: { perLayer: 2, subBatch: 2, every: 1 }, trace: false, budget: { maxOverhead: 1e6 },
          readings: ['hindsight', 'perRound'], perRound: { every: 2 },
        });
        trainer.use(plugin);
        let most = 0;
        trainer.hooks.afterBatch.tapPromise({ name: 'test', stage: STAGE_ANALYZE }, async () => { most = Math.max(most, tf.memory().numTensors - before); });
        await trainer.fit(x, y, { epochs, batchSize: 3, shuffle: true, seed: 1 });
        expect(tf.memory().numTensors).toBe(before);
        expect(Object.keys(plugin.results.scopes).length).toBe(2 * trainer.anatomy.layers.length + 1); // and the network
        peak.push(most);
        plugin.dispose();
        model.dispose();
        optimizer.dispose();
      }
      expect(peak[1]).toBe(peak[0]);
      tf.dispose([x, y]);
    });
  }
});
