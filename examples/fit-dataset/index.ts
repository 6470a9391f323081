// taylorlens inside model.fitDataset: wrap the dataset, add the callback. The wrapper hands each
// batch fitDataset reads to the plugins, which see it with the weights before tfjs's step.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { instrument, loadMnist, selectBackend, tensorBatches, toTensors } from '@taylorlens/core';
import { ActivationPlugin } from '@taylorlens/plugin-activation';
import { RegretPlugin } from '@taylorlens/plugin-regret';

export async function main(opts: { limit?: number; epochs?: number; log?: (line: string) => void } = {}) {
  const log = opts.log ?? console.log;
  const epochs = opts.epochs ?? 3;
  await selectBackend();
  const { x, y } = toTensors(loadMnist({ split: 'train', limit: opts.limit ?? 2048 }), { flatten: true, oneHot: 10 });
  // Any tf.data.Dataset of { xs, ys } batches works the same, e.g. tf.data.zip({ xs, ys }).shuffle(1024).batch(64).
  const dataset = tensorBatches(x, y, { batchSize: 64, shuffle: true, seed: 1 });
  const model = tfl.sequential({ layers: [
    tfl.layers.dense({ inputShape: [784], units: 32, activation: 'relu' }),
    tfl.layers.dense({ units: 16, activation: 'relu' }),
    tfl.layers.dense({ units: 10, activation: 'softmax' }),
  ] });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });

  const regret = new RegretPlugin({ network: { enabled: false }, layers: { layers: [1] }, neurons: { layers: [1], perLayer: 8 } });
  const activation = new ActivationPlugin({ probeSize: 200 }); // probe images: drawn from a pass of its own over the dataset
  const lens = instrument(model, { plugins: [regret, activation] });
  const history = await model.fitDataset(lens.wrap(dataset), { epochs, verbose: 0, callbacks: [lens.callback()] });

  log(`model.fitDataset: loss ${(history.history.loss as number[]).map((l) => l.toFixed(3)).join(' → ')}`);
  for (const [scope, s] of Object.entries(regret.results.scopes)) {
    log(`  ${scope}: regret / √N per epoch ${s.checkpoints.map((c) => c.summary.mean.toFixed(4)).join(', ')}`);
  }
  log(`  activation novelty per epoch: ${activation.final!.novelty.slice(1).map((p) => p.normalized!.toFixed(4)).join(', ')}`);
  tf.dispose([x, y]);
  model.dispose();
  return { history: history.history, regret: regret.results, activation: activation.final! };
}

if (process.argv[1]?.endsWith('fit-dataset/index.js')) await main();
