// taylorlens inside model.fit, two ways: model.fit itself with shuffle: false (the callback cuts
// each batch from x, y as fit does), or taylorlens's drop-in fit, which takes model.fit's
// arguments, shuffles with a seed and returns the same History.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { fit, instrument, loadMnist, selectBackend, toTensors } from '@taylorlens/core';
import { ActivationPlugin } from '@taylorlens/plugin-activation';
import { RegretPlugin } from '@taylorlens/plugin-regret';

function compiled(): tfl.LayersModel {
  const model = tfl.sequential({ layers: [
    tfl.layers.dense({ inputShape: [784], units: 32, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
    tfl.layers.dense({ units: 16, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
    tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }),
  ] });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  return model;
}

const plugins = () => [
  new RegretPlugin({ network: { enabled: false }, layers: { layers: [1] }, neurons: { layers: [1], perLayer: 8 } }),
  new ActivationPlugin({ probeSize: 200 }),
] as const;

export async function main(opts: { limit?: number; epochs?: number; log?: (line: string) => void } = {}) {
  const log = opts.log ?? console.log;
  const epochs = opts.epochs ?? 3;
  await selectBackend();
  const { x, y } = toTensors(loadMnist({ split: 'train', limit: opts.limit ?? 2048 }), { flatten: true, oneHot: 10 });

  // 1. model.fit as it is, without shuffling.
  const a = compiled();
  const [regretA, activationA] = plugins();
  const lens = instrument(a, { plugins: [regretA, activationA] });
  const plain = await a.fit(x, y, { epochs, batchSize: 64, shuffle: false, validationSplit: 0.1, verbose: 0, callbacks: [lens.callback(x, y)] });

  // 2. Shuffled: the drop-in fit (model.fit with shuffle: true and this callback would refuse to start).
  const b = compiled();
  const [regretB, activationB] = plugins();
  const shuffled = await fit(b, x, y, { epochs, batchSize: 64, seed: 1, validationSplit: 0.1, verbose: 0, plugins: [regretB, activationB] });

  for (const [name, h, regret, activation] of [['model.fit, shuffle: false', plain, regretA, activationA], ['fit (drop-in), seed 1', shuffled, regretB, activationB]] as const) {
    log(`${name}: val_loss ${(h.history.val_loss as number[]).map((l) => l.toFixed(3)).join(' → ')}`);
    for (const [scope, s] of Object.entries(regret.results.scopes)) {
      log(`  ${scope}: regret / √N per epoch ${s.checkpoints.map((c) => c.summary.mean.toFixed(4)).join(', ')}`);
    }
    log(`  activation novelty per epoch: ${activation.final!.novelty.slice(1).map((p) => p.normalized!.toFixed(4)).join(', ')}`);
  }
  tf.dispose([x, y]);
  a.dispose();
  b.dispose();
  return { plain: plain.history, shuffled: shuffled.history, regret: [regretA.results, regretB.results], activation: [activationA.final!, activationB.final!] };
}

if (process.argv[1]?.endsWith('model-fit/index.js')) await main();
