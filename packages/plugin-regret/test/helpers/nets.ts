import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { meanSquaredError, softmaxCrossEntropy, STAGE_ANALYZE, type TaylorLoss, Trainer } from '@taylorlens/core';
import { tinyConv, tinyDense, randomData } from '../../../core/test/helpers/models.js';
import { disposeFrozen, freezeRound, needsFrozen, type FrozenRound } from './brute.js';

export interface NetCase {
  name: string;
  make: () => tfl.LayersModel;
  input: number[];
  loss: TaylorLoss;
  classes: number;
  /** Data other than standard normal inputs (ties, constant backgrounds). */
  data?: (n: number, seed: number) => { x: tf.Tensor; y: tf.Tensor };
  /** False where the checkpoint-optimum check is not run (the net says why). */
  optimum?: boolean;
  /** Trains on cpu only (tfjs lacks a gradient kernel on wasm). */
  cpuOnly?: boolean;
  /** Its checkpoint optimum's direct minimisation takes over 10 s on cpu: checked in the slow tier only (any-model-wasm.slow.test.ts). */
  slowOptimum?: boolean;
}

export const NETS: NetCase[] = [
  { name: 'dense ReLU, MSE', make: () => tinyDense([5, 4, 3, 6], 1), input: [5], loss: meanSquaredError, classes: 6 },
  { name: 'dense ReLU, cross-entropy', make: () => tinyDense([5, 4, 3, 4], 2), input: [5], loss: softmaxCrossEntropy, classes: 4 },
  { name: 'conv + max-pool, MSE', make: () => tinyConv(3, { input: [6, 6, 2], filters: 2, classes: 3 }), input: [6, 6, 2], loss: meanSquaredError, classes: 3 },
  { name: 'conv + max-pool, cross-entropy', make: () => tinyConv(1, { input: [6, 6, 2], filters: 2, classes: 4 }), input: [6, 6, 2], loss: softmaxCrossEntropy, classes: 4 },
];

/**
 * A convnet whose max-pool windows tie at a positive value, as MNIST's do: the top six rows of
 * every input are a constant 0 background and the first conv ('valid', 3×3) has positive biases,
 * so in its top four output rows every 2×2 pool window holds four equal positive values (half of
 * the first pool's windows). Noise below keeps the rest untied.
 */
function tiedConv(seed: number, classes: number): tfl.LayersModel {
  const init = (s: number) => ({ kernelInitializer: tfl.initializers.glorotUniform({ seed: s }) });
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [10, 10, 2], filters: 2, kernelSize: 3, padding: 'valid', activation: 'relu', ...init(seed),
    biasInitializer: tfl.initializers.randomUniform({ minval: 0.1, maxval: 0.3, seed: seed + 100 }) }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  m.add(tfl.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'relu', ...init(seed + 1),
    biasInitializer: tfl.initializers.constant({ value: 0.05 }) }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: classes, ...init(seed + 2) }));
  return m;
}

export function tiedData(n: number, classes: number, seed: number, oneHot: boolean): { x: tf.Tensor; y: tf.Tensor } {
  const { x, y } = randomData(n, [10, 10, 2], classes, seed, oneHot);
  const background = tf.tidy(() => tf.concat([tf.zeros([n, 6, 10, 2]), tf.slice(x, [0, 6, 0, 0], [n, 4, 10, 2])], 1));
  x.dispose();
  return { x: background, y };
}

export const TIED_NETS: NetCase[] = [
  { name: 'conv + max-pool with tied windows, MSE', make: () => tiedConv(5, 3), input: [10, 10, 2], loss: meanSquaredError, classes: 3,
    data: (n, seed) => tiedData(n, 3, seed, false) },
  { name: 'conv + max-pool with tied windows, cross-entropy', make: () => tiedConv(6, 4), input: [10, 10, 2], loss: softmaxCrossEntropy, classes: 4,
    data: (n, seed) => tiedData(n, 4, seed, true) },
];

/** Layers without a bias (`useBias: false`): the scopes' parameter vectors must have no bias entry. */
function biasFreeDense(seed: number): tfl.LayersModel {
  const m = tinyDense([5, 4, 3, 6], seed);
  const layers = m.layers.map((l) => l.getConfig());
  const out = tfl.sequential();
  layers.forEach((cfg, i) => out.add(tfl.layers.dense({
    units: cfg.units as number, activation: cfg.activation as 'relu' | 'linear', inputShape: i === 0 ? [5] : undefined,
    useBias: i !== 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + i }),
  })));
  m.dispose();
  return out;
}

function biasFreeConv(seed: number): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 2, kernelSize: 3, padding: 'same', activation: 'relu', useBias: false,
    kernelInitializer: tfl.initializers.glorotUniform({ seed }) }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 3, useBias: false, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }));
  return m;
}

export const BIAS_FREE_NETS: NetCase[] = [
  { name: 'dense ReLU with a bias-free hidden layer, MSE', make: () => biasFreeDense(12), input: [5], loss: meanSquaredError, classes: 6 },
  { name: 'bias-free conv + max-pool + bias-free dense, cross-entropy', make: () => biasFreeConv(9), input: [6, 6, 2], loss: softmaxCrossEntropy, classes: 3 },
];

/** A smooth activation (its derivative comes from autodiff, not a mask). */
export const TANH_NET: NetCase = { name: 'dense tanh, MSE', make: () => tinyDense([5, 4, 3, 6], 4, 'tanh'), input: [5], loss: meanSquaredError, classes: 6 };

export function dataFor(net: NetCase, n: number, seed = 7) {
  return net.data ? net.data(n, seed) : randomData(n, net.input, net.classes, seed, net.loss === softmaxCrossEntropy);
}

/** What the tests keep of each round: the batch, the output, `W_n`, `W_{n+1}`, `ℓ_n`. */
export interface KeptRound {
  round: number;
  x: tf.Tensor;
  y: tf.Tensor2D;
  f: tf.Tensor2D;
  before: tf.Tensor[];
  after: tf.Tensor[];
  loss: number;
  /** Graphs with BatchNormalization or dropout: the batch statistics at W_n (brute force) and the round's dropout masks. */
  frozen?: FrozenRound;
}

/** Tap a trainer so every round's data is kept (after the plugin has recorded it). */
export function keepRounds(trainer: Trainer): KeptRound[] {
  const rounds: KeptRound[] = [];
  trainer.hooks.afterBackward.tapPromise({ name: 'test', stage: STAGE_ANALYZE }, async (ctx) => {
    const anatomy = trainer.anatomy;
    const before = anatomy.variables.map((v) => v.clone());
    let frozen: FrozenRound | undefined;
    if (needsFrozen(anatomy)) {
      // The dropout masks are the round's random draw, as the instrumented pass kept them; the
      // batch statistics are recomputed by brute force from W_n (the live variables now).
      const masks = new Map<number, tf.Tensor>();
      for (const n of anatomy.graph) {
        const mask = n.role === 'derivatives' && n.className.endsWith('Dropout') ? ctx.capture.nodeState(n.id)?.sample.mask : undefined;
        if (mask) masks.set(n.id, tf.keep(mask.clone()));
      }
      frozen = freezeRound(anatomy, before, ctx.capture.x, masks);
    }
    rounds.push({
      round: ctx.round, x: ctx.capture.x.clone(), y: ctx.capture.y.clone() as tf.Tensor2D, f: ctx.capture.output.clone() as tf.Tensor2D,
      before, after: [], loss: ctx.loss, frozen,
    });
  });
  trainer.hooks.afterStep.tapPromise({ name: 'test', stage: STAGE_ANALYZE }, async () => {
    rounds[rounds.length - 1].after = trainer.anatomy.variables.map((v) => v.clone());
  });
  return rounds;
}

export function disposeRounds(rounds: KeptRound[]): void {
  for (const r of rounds) {
    tf.dispose([r.x, r.y, r.f, ...r.before, ...r.after]);
    disposeFrozen(r.frozen);
  }
}

export { meanSquaredError, softmaxCrossEntropy };

/**
 * Two SeparableConv2D layers: 3×3 stride 2 'same' without bias (relu), then 2×2 'valid' with depth
 * multiplier 2 and a bias (relu6), flatten, dense. With `separableData` the top rows of every
 * input are a constant 0 background: the bias-free first layer's pre-activation is exactly 0 there
 * (ReLU at its kink, where tfjs's slope is 0).
 */
export function separableNet(seed: number, output: 'linear' | 'softmax' = 'softmax'): tfl.LayersModel {
  const glorot = (s: number) => tfl.initializers.glorotUniform({ seed: s });
  const m = tfl.sequential();
  m.add(tfl.layers.separableConv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, strides: 2, padding: 'same', useBias: false, activation: 'relu',
    depthwiseInitializer: glorot(seed), pointwiseInitializer: glorot(seed + 1) }));
  m.add(tfl.layers.separableConv2d({ filters: 2, kernelSize: 2, depthMultiplier: 2, padding: 'valid', activation: 'relu6',
    depthwiseInitializer: glorot(seed + 2), pointwiseInitializer: glorot(seed + 3),
    biasInitializer: tfl.initializers.randomUniform({ minval: -0.1, maxval: 0.3, seed: seed + 4 }) }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 3, activation: output, kernelInitializer: glorot(seed + 5) }));
  return m;
}

export function separableData(n: number, seed: number, oneHot: boolean): { x: tf.Tensor; y: tf.Tensor } {
  const { x, y } = randomData(n, [6, 6, 2], 3, seed, oneHot);
  const background = tf.tidy(() => tf.concat([tf.zeros([n, 3, 6, 2]), tf.slice(x, [0, 3, 0, 0], [n, 3, 6, 2])], 1));
  x.dispose();
  return { x: background, y };
}
