// Core benchmarks (foundation issue): per-round cost of our trainer against a hand-written
// tfjs loop, the cost of hooks, convnet steps on wasm vs cpu, and the clamped Jacobian.
import * as tf from '@tensorflow/tfjs-core';
import { Trainer, SeededRandom, captureForward, perSampleJacobian, selectBackend } from '@taylorlens/core';
import { autoencoder, mnistLike, paperConvnet } from '../lib/models.js';

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
