// Attach taylorlens to a tfjs model you already have. It writes no files: results stay in memory.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadMnist, selectBackend, toTensors, Trainer } from '@taylorlens/core';
import { ActivationPlugin } from '@taylorlens/plugin-activation';
import { RegretPlugin } from '@taylorlens/plugin-regret';

export async function main(opts: { limit?: number; epochs?: number; log?: (line: string) => void } = {}) {
  const log = opts.log ?? console.log;
  const epochs = opts.epochs ?? 3;
  await selectBackend(); // the best available: tfjs-node(-gpu), then wasm, then cpu
  const { x, y } = toTensors(loadMnist({ split: 'train', limit: opts.limit ?? 2048 }), { flatten: true, oneHot: 10 });

  // 1. The usual tfjs way: build, compile, fit. The activation tracker is one more callback.
  const model = tfl.sequential({ layers: [
    tfl.layers.dense({ inputShape: [784], units: 32, activation: 'relu' }),
    tfl.layers.dense({ units: 16, activation: 'relu' }),
    tfl.layers.dense({ units: 10, activation: 'softmax' }),
  ] });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const tracker = new ActivationPlugin({ probeSize: 500 }).setTrainingData(x);
  const history = await model.fit(x, y, { epochs, batchSize: 64, verbose: 0, callbacks: [tracker.asCallback()] });
  const a = tracker.final!;
  log(`model.fit: loss ${(history.history.loss as number[]).map((l) => l.toFixed(3)).join(' → ')}`);
  log(`  activation novelty per epoch (share of probe×unit bits that changed): ${a.novelty.slice(1).map((p) => p.normalized!.toFixed(4)).join(', ')}`);
  log(`  mean switch rate per probe input: ${(a.switches.perPoint.reduce((s, v) => s + v, 0) / a.switches.perPoint.length).toFixed(4)}`);

  // 2. The same model, trained on in taylorlens's Trainer (loss and optimizer from compile), with regret
  //    of the 32→16 layer and of 8 of its neurons against their hindsight Taylor optimum.
  const regret = new RegretPlugin({ network: { enabled: false }, layers: { layers: [1] }, neurons: { layers: [1], perLayer: 8 } });
  const summary = await new Trainer(model, { plugins: [regret] }).fit(x, y, { epochs, batchSize: 64, seed: 1 });
  log(`Trainer: loss ${summary.epochLoss.map((l) => l.toFixed(3)).join(' → ')}`);
  for (const [scope, s] of Object.entries(regret.results.scopes)) {
    const c = s.checkpoints.at(-1)!;
    log(`  ${scope}: Σℓ ${c.cumulativeLoss.toFixed(2)}, regret / √N ${c.summary.mean.toFixed(4)} over N = ${c.recordedRounds} rounds`);
  }
  tf.dispose([x, y]);
  model.dispose();
  return { history: history.history, activation: a, summary, regret: regret.results };
}

if (process.argv[1]?.endsWith('attach-existing-model/index.js')) await main();
