import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** Seeded initialisers so every test model is the same on every run. */
function init(seed: number) {
  return { kernelInitializer: tfl.initializers.glorotUniform({ seed }), biasInitializer: tfl.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: seed + 1000 }) };
}

/** Tiny dense ReLU net, MSE-shaped output. */
export function tinyDense(sizes = [5, 4, 3, 6], seed = 1, activation: 'relu' | 'tanh' = 'relu'): tfl.Sequential {
  const m = tfl.sequential();
  for (let i = 1; i < sizes.length; i++) {
    m.add(tfl.layers.dense({
      units: sizes[i], activation: i === sizes.length - 1 ? 'linear' : activation,
      inputShape: i === 1 ? [sizes[0]] : undefined, ...init(seed + i),
    }));
  }
  return m;
}

/** Tiny convnet: conv → ReLU → max-pool → conv → ReLU → max-pool → flatten → dense. */
export function tinyConv(seed = 1, opts: { input?: [number, number, number]; filters?: number; classes?: number; pad?: 'same' | 'valid' } = {}): tfl.Sequential {
  const input = opts.input ?? [8, 8, 2];
  const filters = opts.filters ?? 3;
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: input, filters, kernelSize: 3, padding: opts.pad ?? 'same', activation: 'relu', ...init(seed) }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  m.add(tfl.layers.conv2d({ filters, kernelSize: 3, padding: 'same', ...init(seed + 1) }));
  m.add(tfl.layers.activation({ activation: 'relu' }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: opts.classes ?? 4, ...init(seed + 2) }));
  return m;
}

/** The paper's MNIST autoencoder 784-50-30-20-30-50-784. */
export function autoencoder(seed = 1, sizes = [784, 50, 30, 20, 30, 50, 784]): tfl.Sequential {
  return tinyDense(sizes, seed);
}

/** The paper's convnet (three 5×5 conv layers with ReLU and 2×2 max-pooling, dense 192, dense 10), width scaled. */
export function paperConvnet(seed = 1, opts: { input?: [number, number, number]; filters?: number; hidden?: number } = {}): tfl.Sequential {
  const filters = opts.filters ?? 64;
  const m = tfl.sequential();
  for (let i = 0; i < 3; i++) {
    m.add(tfl.layers.conv2d({ inputShape: i === 0 ? (opts.input ?? [28, 28, 1]) : undefined, filters, kernelSize: 5, padding: 'same', activation: 'relu', ...init(seed + i) }));
    m.add(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }));
  }
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: opts.hidden ?? 192, activation: 'relu', ...init(seed + 3) }));
  m.add(tfl.layers.dense({ units: 10, activation: 'softmax', ...init(seed + 4) }));
  return m;
}

export function randomData(n: number, inShape: number[], outSize: number, seed = 7, oneHot = false): { x: tf.Tensor; y: tf.Tensor } {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, ...inShape], 0, 1, 'float32', seed);
    const y = oneHot
      ? tf.cast(tf.oneHot(tf.randomUniform([n], 0, outSize, 'int32', seed + 1), outSize), 'float32')
      : tf.randomNormal([n, outSize], 0, 1, 'float32', seed + 1);
    return { x, y };
  });
}

export async function weightsOf(m: tfl.LayersModel): Promise<Float32Array[]> {
  return Promise.all(m.getWeights().map(async (w) => (await w.data()) as Float32Array));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Seeded BatchNormalization: γ drawn from [γmin, γmax] (large enough that a later relu6 saturates), β from ±0.1. */
function batchNorm(seed: number, gamma: [number, number] = [0.5, 1.5]): tfl.layers.Layer {
  return tfl.layers.batchNormalization({
    gammaInitializer: tfl.initializers.randomUniform({ minval: gamma[0], maxval: gamma[1], seed: seed + 2000 }),
    betaInitializer: tfl.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: seed + 3000 }),
  });
}

export interface BlockOptions {
  /** Per-sample input shape (height, width, channels). */
  input?: [number, number, number];
  filters?: number;
  classes?: number;
  /** The Dense output's activation: softmax (cross-entropy) or linear (squared error, or logits). */
  output?: 'softmax' | 'linear';
}

/**
 * A ResNet-style basic block (a graph, not a chain): conv 3×3/2 (no bias) → BN → ReLU → conv 3×3
 * → BN, plus a shortcut conv 1×1/2 of the input, `add`, ReLU, global average pooling, Dense.
 * Default: a tiny 6×6×2 input with 3 filters (brute force); `{ input: [32, 32, 3], filters: 16 }`
 * is the bench's.
 */
export function resnetBlock(seed = 1, opts: BlockOptions = {}): tfl.LayersModel {
  const f = opts.filters ?? 3;
  const input = tfl.input({ shape: opts.input ?? [6, 6, 2] });
  const conv = (filters: number, kernelSize: number, strides: number, s: number, useBias = true) => tfl.layers.conv2d({
    filters, kernelSize, strides, padding: 'same', useBias, ...init(seed + s),
  });
  let h = conv(f, 3, 2, 0, false).apply(input) as tfl.SymbolicTensor;
  h = batchNorm(seed).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.reLU().apply(h) as tfl.SymbolicTensor;
  h = conv(f, 3, 1, 1).apply(h) as tfl.SymbolicTensor;
  h = batchNorm(seed + 1).apply(h) as tfl.SymbolicTensor;
  const shortcut = conv(f, 1, 2, 2).apply(input) as tfl.SymbolicTensor;
  h = tfl.layers.add().apply([h, shortcut]) as tfl.SymbolicTensor;
  h = tfl.layers.reLU().apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.globalAveragePooling2d({}).apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: opts.classes ?? 3, activation: opts.output ?? 'softmax', ...init(seed + 3) }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

/**
 * A MobileNet-style block (a chain): conv 3×3 → depthwise conv 3×3 (no bias) → BN (γ in [2, 5],
 * so that the relu6 after it saturates on part of the batch) → ReLU(maxValue 6) → separable conv
 * 3×3 with its own relu6 → global average pooling → Dense. Default input 6×6×2, 3 filters.
 */
export function mobilenetBlock(seed = 1, opts: BlockOptions = {}): tfl.Sequential {
  const f = opts.filters ?? 3;
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: opts.input ?? [6, 6, 2], filters: f, kernelSize: 3, padding: 'same', ...init(seed) }));
  m.add(tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }));
  m.add(batchNorm(seed, [2, 5]));
  m.add(tfl.layers.reLU({ maxValue: 6 }));
  m.add(tfl.layers.separableConv2d({
    filters: f, kernelSize: 3, padding: 'same', activation: 'relu6',
    depthwiseInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }), pointwiseInitializer: tfl.initializers.glorotUniform({ seed: seed + 3 }),
    biasInitializer: tfl.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: seed + 4 }),
  }));
  m.add(tfl.layers.globalAveragePooling2d({}));
  m.add(tfl.layers.dense({ units: opts.classes ?? 3, activation: opts.output ?? 'softmax', ...init(seed + 5) }));
  return m;
}

/**
 * An MLP with activation layers that carry their own shape: dense → LeakyReLU(0.1) → Dropout
 * (seeded) → dense → PReLU (α drawn in [0.1, 0.4]) → dense softmax, compiled with
 * sparseCategoricalCrossentropy (targets: one class index per row) and SGD; `output: 'linear'` gives
 * the logits instead of the softmax. `dropout: 0` keeps the layer as the identity, `dropout: null`
 * leaves it out. A seeded tfjs Dropout draws the same mask on every call of the same shape (its
 * seed is fixed per layer).
 */
export function leakyMlp(seed = 1, opts: { sizes?: number[]; dropout?: number | null; classes?: number; output?: 'softmax' | 'linear' } = {}): tfl.Sequential {
  const [inputs, h1, h2] = opts.sizes ?? [5, 6, 4];
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ inputShape: [inputs], units: h1, ...init(seed) }));
  m.add(tfl.layers.leakyReLU({ alpha: 0.1 }));
  if (opts.dropout !== null) m.add(tfl.layers.dropout({ rate: opts.dropout ?? 0.25, seed: seed + 7 }));
  m.add(tfl.layers.dense({ units: h2, ...init(seed + 1) }));
  m.add(tfl.layers.prelu({ alphaInitializer: tfl.initializers.randomUniform({ minval: 0.1, maxval: 0.4, seed: seed + 8 }) }));
  m.add(tfl.layers.dense({ units: opts.classes ?? 3, activation: opts.output ?? 'softmax', ...init(seed + 2) }));
  m.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: 'sgd' });
  return m;
}

/** Inputs and class-index targets `[n]` (int32) for sparse cross-entropy. */
export function labelData(n: number, inShape: number[], classes: number, seed = 7): { x: tf.Tensor; y: tf.Tensor1D } {
  return tf.tidy(() => ({
    x: tf.randomNormal([n, ...inShape], 0, 1, 'float32', seed),
    y: tf.randomUniform([n], 0, classes, 'int32', seed + 1) as tf.Tensor1D,
  }));
}

/**
 * A sequence net for the scoped layers beyond Dense/Conv2D on sequences: Conv1D 3/2 same (ReLU) →
 * Conv1D 2 valid (no bias, tanh) → BatchNormalization → Activation('relu') (folded into BN) →
 * Dense on the rank-3 output (ReLU, applied at every position) → Flatten → Dense. Input `[8, 2]`.
 */
export function sequenceNet(seed = 1, opts: { classes?: number; output?: 'softmax' | 'linear' } = {}): tfl.Sequential {
  const m = tfl.sequential();
  m.add(tfl.layers.conv1d({ inputShape: [8, 2], filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', ...init(seed) }));
  m.add(tfl.layers.conv1d({ filters: 3, kernelSize: 2, useBias: false, activation: 'tanh', ...init(seed + 1) }));
  m.add(batchNorm(seed));
  m.add(tfl.layers.activation({ activation: 'relu' }));
  m.add(tfl.layers.dense({ units: 2, activation: 'relu', ...init(seed + 2) }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: opts.classes ?? 3, activation: opts.output ?? 'softmax', ...init(seed + 3) }));
  return m;
}

/**
 * Depthwise convolutions with and without bias: conv 3×3 (ReLU) → DepthwiseConv2D 3×3/2 same,
 * depth multiplier 2, with bias (ReLU) → DepthwiseConv2D 2×2 valid, no bias (tanh) → Flatten →
 * Dense. Input 6×6×2.
 */
export function depthwiseNet(seed = 1, opts: { classes?: number; output?: 'softmax' | 'linear' } = {}): tfl.Sequential {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 2, kernelSize: 3, padding: 'same', activation: 'relu', ...init(seed) }));
  m.add(tfl.layers.depthwiseConv2d({
    kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2, activation: 'relu',
    depthwiseInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }), biasInitializer: tfl.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: seed + 2 }),
  }));
  m.add(tfl.layers.depthwiseConv2d({ kernelSize: 2, useBias: false, activation: 'tanh', depthwiseInitializer: tfl.initializers.glorotUniform({ seed: seed + 3 }) }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: opts.classes ?? 3, activation: opts.output ?? 'softmax', ...init(seed + 4) }));
  return m;
}

/**
 * PReLU on images and on features: conv 3×3 → PReLU with α shared over height and width (one α
 * per channel) → conv 2×2/2 valid (no bias) → PReLU with one α per entry → global average
 * pooling → Dense. Input 5×5×2.
 */
export function preluConvNet(seed = 1, opts: { classes?: number; output?: 'softmax' | 'linear' } = {}): tfl.Sequential {
  const alpha = (s: number) => tfl.initializers.randomUniform({ minval: 0.1, maxval: 0.4, seed: seed + s });
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 3, padding: 'same', ...init(seed) }));
  m.add(tfl.layers.prelu({ sharedAxes: [1, 2], alphaInitializer: alpha(7) }));
  m.add(tfl.layers.conv2d({ filters: 3, kernelSize: 2, strides: 2, useBias: false, ...init(seed + 1) }));
  m.add(tfl.layers.prelu({ alphaInitializer: alpha(8) }));
  m.add(tfl.layers.globalAveragePooling2d({}));
  m.add(tfl.layers.dense({ units: opts.classes ?? 3, activation: opts.output ?? 'softmax', ...init(seed + 2) }));
  return m;
}

/**
 * LayerNormalization in a small transformer-like MLP on a sequence: Dense on the rank-3 input →
 * LayerNormalization over the features (γ, β per feature) with a folded ReLU → Dense (tanh) →
 * LayerNormalization over the last two axes (γ, β per entry) → Flatten → Dense. Input `[3, 4]`.
 */
export function layerNormNet(seed = 1, opts: { classes?: number; output?: 'softmax' | 'linear' } = {}): tfl.Sequential {
  const gb = (s: number) => ({
    gammaInitializer: tfl.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: seed + s }),
    betaInitializer: tfl.initializers.randomUniform({ minval: -0.3, maxval: 0.3, seed: seed + s + 1 }),
  });
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ inputShape: [3, 4], units: 5, ...init(seed) }));
  m.add(tfl.layers.layerNormalization(gb(10)));
  m.add(tfl.layers.activation({ activation: 'relu' }));
  m.add(tfl.layers.dense({ units: 4, activation: 'tanh', ...init(seed + 1) }));
  m.add(tfl.layers.layerNormalization({ axis: [-2, -1], ...gb(20) }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: opts.classes ?? 3, activation: opts.output ?? 'softmax', ...init(seed + 2) }));
  return m;
}

/**
 * Transposed convolutions (a decoder): conv 3×3 (ReLU) → Conv2DTranspose 3×3/2 same with bias
 * (ReLU) → Conv2DTranspose 2×2 valid without bias (tanh) → global average pooling → Dense.
 * Input 3×3×2.
 */
export function transposeNet(seed = 1, opts: { classes?: number; output?: 'softmax' | 'linear' } = {}): tfl.Sequential {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [3, 3, 2], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', ...init(seed) }));
  m.add(tfl.layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', ...init(seed + 1) }));
  m.add(tfl.layers.conv2dTranspose({ filters: 2, kernelSize: 2, useBias: false, activation: 'tanh', ...init(seed + 2) }));
  m.add(tfl.layers.globalAveragePooling2d({}));
  m.add(tfl.layers.dense({ units: opts.classes ?? 3, activation: opts.output ?? 'softmax', ...init(seed + 3) }));
  return m;
}

/**
 * An Embedding of integer ids (vocabulary 7, dimension 3, sequences of 5) → Dense on its rank-3
 * output (ReLU) → Flatten → Dense; with `idData` for inputs.
 */
export function embeddingNet(seed = 1, opts: { classes?: number; output?: 'softmax' | 'linear' } = {}): tfl.Sequential {
  const m = tfl.sequential();
  m.add(tfl.layers.embedding({ inputShape: [5], inputDim: 7, outputDim: 3, embeddingsInitializer: tfl.initializers.randomNormal({ seed }) }));
  m.add(tfl.layers.dense({ units: 4, activation: 'relu', ...init(seed + 1) }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: opts.classes ?? 3, activation: opts.output ?? 'softmax', ...init(seed + 2) }));
  return m;
}

/** Integer ids in [0, 7) `[n, 5]` and targets: one-hot classes, or standard normal rows. */
export function idData(n: number, outSize: number, seed = 7, oneHot = false): { x: tf.Tensor; y: tf.Tensor } {
  return tf.tidy(() => {
    const x = tf.randomUniform([n, 5], 0, 7, 'int32', seed);
    const y = oneHot
      ? tf.cast(tf.oneHot(tf.randomUniform([n], 0, outSize, 'int32', seed + 1), outSize), 'float32')
      : tf.randomNormal([n, outSize], 0, 1, 'float32', seed + 1);
    return { x, y };
  });
}
