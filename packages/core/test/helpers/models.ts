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
