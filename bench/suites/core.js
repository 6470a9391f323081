// Core benchmarks (foundation issue): per-round cost of our trainer against a hand-written
// tfjs loop, the cost of hooks, convnet steps on wasm vs cpu, and the clamped Jacobian.
// Issue 14: instrument() in a hand-written loop and the callbacks in model.fitDataset, with no
// plugin, against the same code without taylorlens; and what the capture pass costs in a loop.
// Issue 13: the Trainer on a whole model beyond chains (a ResNet-style block on CIFAR-shaped
// input, batch 32) against a hand-written tfjs loop: `node bench/run.js core.trainer.resnet`.
import * as tf from '@tensorflow/tfjs-core';
import { Plugin, Trainer, SeededRandom, captureForward, instrument, perSampleJacobian, selectBackend, tensorBatches } from '@taylorlens/core';
import { median } from '../harness.js';
import { autoencoder, cifarLike, mnistLike, paperConvnet, resnetBlock } from '../lib/models.js';

const BATCH = 64;
const ROUNDS = 40;

/** A hand-written tfjs loop: the same shuffled batches, tfjs's own minimize. */
async function rawEpoch(model, x, y, rng) {
  const order = rng.permutation(x.shape[0]);
  const opt = model.optimizer;
  for (let s = 0; s < x.shape[0]; s += BATCH) {
    const cost = tf.tidy(() => {
      const idx = tf.tensor1d(order.subarray(s, s + BATCH), 'int32');
      const xb = tf.gather(x, idx);
      const yb = tf.gather(y, idx);
      return opt.minimize(() => tf.losses.meanSquaredError(yb, model.apply(xb, { training: true })), true);
    });
    await cost.data(); // the trainer reads each round's loss too
    cost.dispose();
  }
}

/**
 * A hand-written tfjs loop over any compiled model: the same shuffled batches as the Trainer's
 * (a seeded permutation, gathered), `optimizer.minimize` of tfjs's compiled loss on
 * `model.apply(x, { training: true })`, and each round's loss read back (the Trainer reads ℓ_n).
 */
async function rawCompiledEpoch(model, x, y, rng, batch) {
  const order = rng.permutation(x.shape[0]);
  const opt = model.optimizer;
  const lossFn = model.lossFunctions[0];
  for (let s = 0; s < x.shape[0]; s += batch) {
    const cost = tf.tidy(() => {
      const idx = tf.tensor1d(order.subarray(s, s + batch), 'int32');
      const xb = tf.gather(x, idx);
      const yb = tf.gather(y, idx);
      return opt.minimize(() => tf.mean(lossFn(yb, model.apply(xb, { training: true }))), true);
    });
    await cost.data();
    cost.dispose();
  }
}

/** rawEpoch's loop with each step inside `lens.round` (the tensors built the same way). */
async function lensEpoch(lens, model, x, y, rng) {
  const order = rng.permutation(x.shape[0]);
  const opt = model.optimizer;
  for (let s = 0; s < x.shape[0]; s += BATCH) {
    const [xb, yb] = tf.tidy(() => {
      const idx = tf.tensor1d(order.subarray(s, s + BATCH), 'int32');
      return [tf.gather(x, idx), tf.gather(y, idx)];
    });
    const cost = await lens.round(xb, yb, () => tf.tidy(() => opt.minimize(() => tf.losses.meanSquaredError(yb, model.apply(xb, { training: true })), true)));
    await cost.data();
    tf.dispose([xb, yb, cost]);
  }
  await lens.epochEnd();
}

/** A plugin that only asks for what the regret plugin's layer and neuron scopes capture. */
class CapturesOnly extends Plugin {
  name = 'captures';
  constructor() { super({ type: 'object' }, {}, 'captures'); }
  apply(t) { t.require({ inputs: true, preActivations: true, preActivationGrads: true }); t.hooks.afterBackward.tap(this.name, () => {}); }
}

export async function run(bench) {
  await selectBackend('wasm');
  const { x, y } = mnistLike(BATCH * ROUNDS);
  const perRound = (ms) => ms / ROUNDS;

  if (bench.wants('core.')) {
    const raw = autoencoder(1);
    const rng = new SeededRandom(1);
    bench.record('core.raw-loop.autoencoder', perRound(await bench.time(() => rawEpoch(raw, x, y, rng), { warmup: 2, iterations: 9 })));

    const model = autoencoder(1);
    const trainer = new Trainer(model);
    bench.record('core.trainer.autoencoder', perRound(await bench.time(() => trainer.fit(x, y, { epochs: 1, batchSize: BATCH, seed: 1 }), { warmup: 2, iterations: 9 })),
      { baseline: 'core.raw-loop.autoencoder' });

    const hooked = new Trainer(autoencoder(1));
    for (const [name, hook] of Object.entries(hooked.hooks)) {
      if (name === 'step' || name === 'saveState' || name === 'loadState') continue;
      if (name === 'transformGradients') { hook.tap('noop', (g) => g); continue; }
      if (hook.tapPromise) hook.tapPromise('noop', async () => {}); else hook.tap('noop', () => {});
    }
    bench.record('core.trainer-all-hooks.autoencoder', perRound(await bench.time(() => hooked.fit(x, y, { epochs: 1, batchSize: BATCH, seed: 1 }), { warmup: 2, iterations: 9 })),
      { baseline: 'core.trainer.autoencoder' });

    // The per-sample Jacobian of the 784 outputs w.r.t. the 20-unit layer for a batch of 64.
    const xb = tf.slice(x, 0, BATCH);
    const cap = captureForward(trainer.anatomy, xb);
    bench.record('core.jacobian-layer3.autoencoder', await bench.time(async () => {
      const j = perSampleJacobian(trainer.anatomy, cap, 2);
      await j.data();
      j.dispose();
    }, { warmup: 3, iterations: 30 }), { baseline: 'core.trainer.autoencoder' });
    cap.dispose();
    xb.dispose();
  }

  if (bench.wants('core.loop-instrumented.autoencoder') || bench.wants('core.loop-captures.autoencoder')) {
    // Measured in turn, one epoch each per iteration (a noisy machine slows all alike); the raw loop
    // is re-recorded from this run so that the ratios compare like with like.
    const raw = autoencoder(1);
    const rawRng = new SeededRandom(1);
    const plain = autoencoder(1);
    const plainRng = new SeededRandom(1);
    const plainLens = instrument(plain);
    const capturing = autoencoder(1);
    const capturingRng = new SeededRandom(1);
    const capturingLens = instrument(capturing, { plugins: [new CapturesOnly()] });
    const [rawMs, lensMs, captureMs] = await bench.timeEach([
      () => rawEpoch(raw, x, y, rawRng),
      () => lensEpoch(plainLens, plain, x, y, plainRng),
      () => lensEpoch(capturingLens, capturing, x, y, capturingRng),
    ], { warmup: 2, iterations: 12 });
    await plainLens.end();
    await capturingLens.end();
    bench.record('core.raw-loop.autoencoder', perRound(rawMs));
    bench.record('core.loop-instrumented.autoencoder', perRound(lensMs), { baseline: 'core.raw-loop.autoencoder', extra: { budget: 1.05 } });
    // The pass taylorlens runs beside the user's step for the captures (forward + ∂ℓ/∂a backward).
    bench.record('core.loop-captures.autoencoder', perRound(captureMs), { baseline: 'core.raw-loop.autoencoder' });
  }

  if (bench.wants('core.fitdataset.autoencoder')) {
    const plain = autoencoder(1);
    const lensed = autoencoder(1);
    const data = (seed) => tensorBatches(x, y, { batchSize: BATCH, shuffle: true, seed });
    let epoch = 0;
    const [plainMs, lensMs] = await bench.timeEach([
      () => plain.fitDataset(data(epoch), { epochs: 1, verbose: 0 }),
      async () => {
        const lens = instrument(lensed); // one lens per fitDataset call (a lens is one run)
        await lensed.fitDataset(lens.wrap(data(epoch++)), { epochs: 1, verbose: 0, callbacks: [lens.callback()] });
      },
    ], { warmup: 2, iterations: 12 });
    bench.record('core.fitdataset-plain.autoencoder', perRound(plainMs));
    bench.record('core.fitdataset.autoencoder', perRound(lensMs), { baseline: 'core.fitdataset-plain.autoencoder', extra: { budget: 1.05 } });
  }

  if (bench.wants('core.trainer.resnet') || bench.wants('core.raw-loop.resnet')) {
    // The ResNet-style block (32×32×3, 16 filters, 10 classes), batch 32, Adam: the Trainer with no
    // plugin against the hand-written loop, one epoch of each per iteration in turn.
    await selectBackend('wasm');
    const RB = 32;
    const RR = 20;
    const data = cifarLike(RB * RR);
    const raw = resnetBlock(1);
    const rawRng = new SeededRandom(1);
    const trainer = new Trainer(resnetBlock(1));
    const [rawRuns, trainerRuns] = await bench.timeEachRuns([
      () => rawCompiledEpoch(raw, data.x, data.y, rawRng, RB),
      () => trainer.fit(data.x, data.y, { epochs: 1, batchSize: RB, seed: 1 }),
    ], { warmup: 2, iterations: 15 });
    // The median of the per-iteration ratios too: the two epochs of an iteration share the machine's mood.
    const paired = Math.round(median(trainerRuns.map((t, i) => t / rawRuns[i])) * 1000) / 1000;
    const model = 'ResNet-style block 32×32×3: conv 3×3/2 (16, no bias), BN, ReLU, conv 3×3 (16), BN, + conv 1×1/2 shortcut, add, ReLU, GAP, dense 10 softmax; Adam';
    bench.record('core.raw-loop.resnet', median(rawRuns) / RR, { extra: { batch: RB, model } });
    bench.record('core.trainer.resnet', median(trainerRuns) / RR, { baseline: 'core.raw-loop.resnet', extra: { batch: RB, budget: 1.05, ratio_paired: paired } });
    tf.dispose([data.x, data.y]);
  }

  if (bench.wants('core.convnet')) {
    const data = mnistLike(32, { flat: false, classes: 10 });
    const step = async (backend) => {
      await selectBackend(backend);
      const model = paperConvnet(1);
      const trainer = new Trainer(model);
      return bench.time(() => trainer.fit(data.x, data.y, { epochs: 1, batchSize: 32, shuffle: false }), { warmup: 1, iterations: backend === 'cpu' ? 3 : 5 });
    };
    bench.record('core.convnet.cpu', await step('cpu'));
    bench.record('core.convnet.wasm', await step('wasm'), { baseline: 'core.convnet.cpu' });
  }
  await selectBackend('wasm');
}
