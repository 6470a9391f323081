// Models shared by bench suites (plain tfjs-layers, seeded so every run times the same work).
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

const init = (seed) => ({ kernelInitializer: tfl.initializers.glorotUniform({ seed }), biasInitializer: 'zeros' });

/** The paper's MNIST autoencoder 784-50-30-20-30-50-784, ReLU, compiled with MSE and Adam. */
export function autoencoder(seed = 1, optimizer = tf.train.adam(1e-3)) {
  const sizes = [784, 50, 30, 20, 30, 50, 784];
  const m = tfl.sequential();
  for (let i = 1; i < sizes.length; i++) {
    m.add(tfl.layers.dense({ units: sizes[i], activation: i === sizes.length - 1 ? 'linear' : 'relu', inputShape: i === 1 ? [784] : undefined, ...init(seed + i) }));
  }
  m.compile({ loss: 'meanSquaredError', optimizer });
  return m;
}

/** The paper's convnet: three 5×5 conv layers of `filters` with ReLU and 2×2 max-pooling, dense 192, dense 10. */
export function paperConvnet(seed = 1, { input = [28, 28, 1], filters = 64, hidden = 192, optimizer = tf.train.adam(1e-3) } = {}) {
  const m = tfl.sequential();
  for (let i = 0; i < 3; i++) {
    m.add(tfl.layers.conv2d({ inputShape: i === 0 ? input : undefined, filters, kernelSize: 5, padding: 'same', activation: 'relu', ...init(seed + i) }));
    m.add(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }));
  }
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: hidden, activation: 'relu', ...init(seed + 3) }));
  m.add(tfl.layers.dense({ units: 10, activation: 'softmax', ...init(seed + 4) }));
  m.compile({ loss: 'categoricalCrossentropy', optimizer });
  return m;
}

/** Random MNIST-shaped data (the timing does not depend on the values). */
export function mnistLike(n, { flat = true, classes = 0, seed = 3 } = {}) {
  return tf.tidy(() => {
    const x = tf.randomUniform(flat ? [n, 784] : [n, 28, 28, 1], 0, 1, 'float32', seed);
    const y = classes ? tf.cast(tf.oneHot(tf.randomUniform([n], 0, classes, 'int32', seed + 1), classes), 'float32') : x.clone();
    return { x, y };
  });
}

/**
 * A ResNet-style basic block (as packages/core/test/helpers/models.ts `resnetBlock`): conv 3×3/2
 * (no bias) → BN → ReLU → conv 3×3 → BN, plus a 1×1/2 shortcut conv of the input, add, ReLU,
 * global average pooling, dense softmax; compiled with categorical cross-entropy.
 */
export function resnetBlock(seed = 1, { input = [32, 32, 3], filters = 16, classes = 10, optimizer = tf.train.adam(1e-3) } = {}) {
  const x = tfl.input({ shape: input });
  const conv = (kernelSize, strides, s, useBias = true) => tfl.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias, ...init(seed + s) });
  let h = conv(3, 2, 0, false).apply(x);
  h = tfl.layers.batchNormalization().apply(h);
  h = tfl.layers.reLU().apply(h);
  h = conv(3, 1, 1).apply(h);
  h = tfl.layers.batchNormalization().apply(h);
  h = tfl.layers.add().apply([h, conv(1, 2, 2).apply(x)]);
  h = tfl.layers.reLU().apply(h);
  h = tfl.layers.globalAveragePooling2d({}).apply(h);
  const m = tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: classes, activation: 'softmax', ...init(seed + 3) }).apply(h) });
  m.compile({ loss: 'categoricalCrossentropy', optimizer });
  return m;
}

/** Random CIFAR-shaped images and one-hot labels. */
export function cifarLike(n, { classes = 10, seed = 3 } = {}) {
  return tf.tidy(() => ({
    x: tf.randomUniform([n, 32, 32, 3], 0, 1, 'float32', seed),
    y: tf.cast(tf.oneHot(tf.randomUniform([n], 0, classes, 'int32', seed + 1), classes), 'float32'),
  }));
}
