// Optimizer step cost on the autoencoder (784-50-30-20-30-50-784, ReLU, MSE, batch 64): one training
// step = forward, MSE, backward via tf.variableGrads, optimizer.applyGradients. Ours vs tfjs's.
import * as tf from '@tensorflow/tfjs-core';
import { adam, noisySGD, sgd } from '@taylorlens/plugin-optimizers';
import { median } from '../harness.js';

const SIZES = [784, 50, 30, 20, 30, 50, 784];
const BATCH = 64;

/** A fresh autoencoder (seeded init, distinct variable names per instance) and its loss. */
function autoencoder(tag) {
  const layers = [];
  for (let i = 0; i + 1 < SIZES.length; i++) {
    const [fanIn, fanOut] = [SIZES[i], SIZES[i + 1]];
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    layers.push(tf.tidy(() => ({
      kernel: tf.variable(tf.randomUniform([fanIn, fanOut], -limit, limit, 'float32', 17 + i), true, `${tag}/dense${i}/kernel`),
      bias: tf.variable(tf.zeros([fanOut]), true, `${tag}/dense${i}/bias`),
    })));
  }
  const forward = (x) => layers.reduce((h, { kernel, bias }, i) => {
    const z = tf.add(tf.matMul(h, kernel), bias);
    return i + 1 < layers.length ? tf.relu(z) : z;
  }, x);
  return {
    loss: (x) => () => tf.mean(tf.square(tf.sub(forward(x), x))),
    dispose: () => layers.forEach(({ kernel, bias }) => { kernel.dispose(); bias.dispose(); }),
  };
}

/**
 * Median ms of one training step for each optimizer. Steps are interleaved one by one (A, B, B, A,
 * ...) so that load from other processes and garbage collection hit every entry alike.
 */
async function stepTimes(bench, makers, { rounds = 150 } = {}) {
  const x = tf.randomUniform([BATCH, 784], 0, 1, 'float32', 3);
  const runs = makers.map((make, i) => {
    const model = autoencoder(`bench${i}`);
    const optimizer = make();
    const step = () => {
      const { value, grads } = tf.variableGrads(model.loss(x));
      optimizer.applyGradients(grads);
      tf.dispose(grads);
      value.dispose();
    };
    return { model, optimizer, step, times: [] };
  });
  for (const run of runs) await bench.time(run.step, { warmup: 5, iterations: 1 });
  for (let r = 0; r < rounds; r++) {
    // Reverse the order every other round, so no entry always runs right after the same other one.
    for (const run of r % 2 ? [...runs].reverse() : runs) run.times.push(await bench.time(run.step, { warmup: 0, iterations: 1 }));
  }
  for (const run of runs) { run.optimizer.dispose(); run.model.dispose(); }
  x.dispose();
  return runs.map((run) => median(run.times));
}

// Each group is measured together (interleaved); its first entry is the others' baseline.
const GROUPS = [
  [
    ['optimizers.tfjs-adam.autoencoder', () => tf.train.adam(0.001)],
    ['optimizers.adam.autoencoder', () => adam({ learningRate: 0.001 })],
  ],
  [
    ['optimizers.tfjs-sgd.autoencoder', () => tf.train.sgd(0.01)],
    ['optimizers.noisy-sgd.autoencoder', () => noisySGD({ learningRate: 0.01 })],
    ['optimizers.sgd.autoencoder', () => sgd({ learningRate: 0.01 })],
  ],
];

export async function run(bench) {
  const extra = { batch: BATCH, layers: SIZES.join('-') };
  for (const group of GROUPS) {
    if (!group.some(([name]) => bench.wants(name))) continue;
    const times = await stepTimes(bench, group.map(([, make]) => make));
    const [baseline] = group[0];
    group.forEach(([name], i) => bench.record(name, times[i], i === 0 ? { extra } : { baseline, extra }));
  }
}
