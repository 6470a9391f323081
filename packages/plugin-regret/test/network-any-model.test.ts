// The network scope beyond chains of Dense/Conv2D and max-pooling (rounds/replayable.ts): average
// and global average pooling, LeakyReLU (its slopes stored), dropout (the round's mask stored and
// replayed as x · mask) and residual Add graphs. Against brute force through the real tfjs layers
// (helpers/brute.ts, the dropout masks the round drew): τ^n(W_n) = ℓ_n, ∇τ^n(W_n), Σ τ^n at W_{n+1},
// at a later and a random point, the trace's τ^n(W_{n+1}), convexity, no tensor left behind, and the
// certified optimum against a direct minimisation over the stored rounds — with every layer and
// neuron scope of the same nets. The first conv is bias-free on inputs whose top rows are a
// constant 0: its ReLU sits exactly at the kink there. A model with a layer the replay does not
// cover (an overlapping max-pool) is checked the same way with its rounds stored as recorded
// (replayable.ts `networkStorage`); the whole models of any-model.test.ts are too.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { meanSquaredError, registerDerivatives, selectBackend, softmaxCrossEntropy, Trainer } from '@taylorlens/core';
import { networkStorage, RegretPlugin } from '@taylorlens/plugin-regret';
import { TimesWeight } from '../../core/test/helpers/derivative-nets.js';
import { randomData } from '../../core/test/helpers/models.js';
import type { NetCase } from './helpers/nets.js';
import { checkOptimum } from './helpers/optimum-check.js';
import { checkTaylor } from './helpers/taylor-check.js';

const glorot = (seed: number) => tfl.initializers.glorotUniform({ seed });

/** conv (bias-free, linear) → LeakyReLU 0.2 → AveragePooling 2×2 → Dropout 0.25 → flatten → dense. */
function poolingChain(seed: number, output: 'linear' | 'softmax'): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: glorot(seed) }));
  m.add(tfl.layers.leakyReLU({ alpha: 0.2 }));
  m.add(tfl.layers.averagePooling2d({ poolSize: 2 }));
  m.add(tfl.layers.dropout({ rate: 0.25, seed: seed + 7 })); // seeded: the trace check's replayed capture redraws the same mask
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 3, activation: output, kernelInitializer: glorot(seed + 1) }));
  return m;
}

/** A residual block: conv (bias-free, relu) → conv, Add of the two → LeakyReLU → Dropout → global average pooling → dense. */
function residualBlock(seed: number, output: 'linear' | 'softmax'): tfl.LayersModel {
  const input = tfl.input({ shape: [6, 6, 2] });
  const c1 = tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', useBias: false, activation: 'relu', kernelInitializer: glorot(seed) }).apply(input) as tfl.SymbolicTensor;
  const c2 = tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', kernelInitializer: glorot(seed + 1) }).apply(c1) as tfl.SymbolicTensor;
  const sum = tfl.layers.add().apply([c1, c2]) as tfl.SymbolicTensor;
  const act = tfl.layers.leakyReLU({ alpha: 0.1 }).apply(sum) as tfl.SymbolicTensor;
  const drop = tfl.layers.dropout({ rate: 0.2, seed: seed + 7 }).apply(act) as tfl.SymbolicTensor;
  const pooled = tfl.layers.globalAveragePooling2d({}).apply(drop) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, activation: output, kernelInitializer: glorot(seed + 2) }).apply(pooled) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

/** conv (relu) → overlapping MaxPooling2D 3×3/1 → flatten → dense: the max-pool's choices are stored, not replayed. */
function overlappingPool(seed: number, output: 'linear' | 'softmax' = 'linear'): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 2, kernelSize: 3, activation: 'relu', kernelInitializer: glorot(seed) }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 3, strides: 1 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 3, activation: output, kernelInitializer: glorot(seed + 1) }));
  return m;
}

/** Inputs whose top two rows are a constant 0 background. */
function backgroundData(n: number, seed: number, oneHot: boolean): { x: tf.Tensor; y: tf.Tensor } {
  const { x, y } = randomData(n, [6, 6, 2], 3, seed, oneHot);
  const bg = tf.tidy(() => tf.concat([tf.zeros([n, 2, 6, 2]), tf.slice(x, [0, 2, 0, 0], [n, 4, 6, 2])], 1));
  x.dispose();
  return { x: bg, y };
}

const NETS: NetCase[] = [
  { name: 'conv → LeakyReLU → AveragePooling2D → Dropout → dense, squared error', make: () => poolingChain(3, 'linear'), input: [6, 6, 2], loss: meanSquaredError, classes: 3, data: (n, s) => backgroundData(n, s, false) },
  { name: 'conv → LeakyReLU → AveragePooling2D → Dropout → dense, cross-entropy', make: () => poolingChain(5, 'softmax'), input: [6, 6, 2], loss: softmaxCrossEntropy, classes: 3, data: (n, s) => backgroundData(n, s, true) },
  { name: 'residual Add → LeakyReLU → Dropout → GlobalAveragePooling2D (a graph), squared error', make: () => residualBlock(7, 'linear'), input: [6, 6, 2], loss: meanSquaredError, classes: 3, data: (n, s) => backgroundData(n, s, false) },
  { name: 'residual Add → LeakyReLU → Dropout → GlobalAveragePooling2D (a graph), cross-entropy', make: () => residualBlock(9, 'softmax'), input: [6, 6, 2], loss: softmaxCrossEntropy, classes: 3, data: (n, s) => backgroundData(n, s, true) },
];

// A model the network scope stores rather than replays (replayable.ts): its ties and kinks are the background's.
const STORED: NetCase[] = [
  { name: 'conv → overlapping MaxPooling2D 3×3/1 (stored rounds) → dense, cross-entropy', make: () => overlappingPool(11, 'softmax'), input: [6, 6, 2], loss: softmaxCrossEntropy, classes: 3, data: (n, s) => backgroundData(n, s, true) },
];

const TAYLOR = { network: { every: 1 }, layers: { every: 1 }, neurons: { perLayer: 2, subBatch: null, every: 1 }, budget: { maxOverhead: 1e6 }, trace: false };

for (const backend of ['cpu', 'wasm']) {
  describe(`the network scope on pooling, LeakyReLU, dropout and residual graphs, against brute force (${backend})`, () => {
    beforeAll(async () => { await selectBackend(backend); });
    for (const net of [...NETS, ...STORED]) {
      it(`${net.name}: the Taylor checks of every scope`, () => checkTaylor(net, TAYLOR));
      it(`${net.name}: the certified network optimum and every scope's optimum against direct minimisation`, () => checkOptimum(net));
    }
  });
}

describe('which rounds the network scope replays, and what it refuses', () => {
  beforeAll(async () => { await selectBackend('cpu'); });
  it('the graphs above replay their rounds from x and W_n; a model with a layer they do not replay (an overlapping max-pool, BatchNormalization\'s parameters) stores them as recorded', () => {
    const optimizer = tf.train.sgd(0.1);
    const storage = (model: tfl.LayersModel, loss: typeof meanSquaredError) => networkStorage(new Trainer(model, { loss, optimizer }).anatomy);
    for (const net of NETS) {
      const model = net.make();
      expect(storage(model, net.loss), net.name).toBe('replay');
      model.dispose();
    }
    const overlapping = overlappingPool(1);
    const bn = tfl.sequential();
    bn.add(tfl.layers.dense({ inputShape: [4], units: 3, kernelInitializer: glorot(3) }));
    bn.add(tfl.layers.batchNormalization({}));
    bn.add(tfl.layers.dense({ units: 2, kernelInitializer: glorot(4) }));
    expect(storage(overlapping, meanSquaredError)).toBe('stored');
    expect(storage(bn, meanSquaredError)).toBe('stored');
    tf.dispose([overlapping, bn, optimizer] as never);
  });

  it('a trainable weight outside the scoped layers (a custom layer with a registered derivatives module) is refused with the layer named', () => {
    registerDerivatives('TimesWeight', {
      kind: 'x · w',
      freeze: (_layer, r) => ({ sample: {}, shared: { w: r.weights.w } }),
      push: (_layer, state, d) => (d[0] ? tf.mul(d[0], state!.shared!.w) : null),
    });
    const m = tfl.sequential();
    m.add(tfl.layers.dense({ inputShape: [4], units: 3, kernelInitializer: glorot(5) }));
    m.add(new TimesWeight({ name: 'scaler' }));
    m.add(tfl.layers.dense({ units: 2, kernelInitializer: glorot(6) }));
    const optimizer = tf.train.sgd(0.1);
    expect(() => new Trainer(m, { loss: meanSquaredError, optimizer, plugins: [new RegretPlugin({ network: { every: 1 } })] }))
      .toThrow(/network scope moves the scoped layers' parameters only; layer "scaler" \(TimesWeight\) has others; or set network\.enabled: false/);
    m.dispose();
    optimizer.dispose();
  });
});
