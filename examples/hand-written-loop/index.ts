// taylorlens inside a training loop you write yourself: your model (uncompiled), your optimizer,
// your gradients. instrument() watches each round: the batch and the weights before your step,
// the weights after it. Results stay in memory.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { instrument, loadMnist, selectBackend, toTensors } from '@taylorlens/core';
import { ActivationPlugin } from '@taylorlens/plugin-activation';
import { RegretPlugin } from '@taylorlens/plugin-regret';

export async function main(opts: { limit?: number; epochs?: number; log?: (line: string) => void } = {}) {
  const log = opts.log ?? console.log;
  const epochs = opts.epochs ?? 3;
  const batchSize = 64;
  await selectBackend();
  const { x, y } = toTensors(loadMnist({ split: 'train', limit: opts.limit ?? 2048 }), { flatten: true, oneHot: 10 });
  const model = tfl.sequential({ layers: [
    tfl.layers.dense({ inputShape: [784], units: 32, activation: 'relu' }),
    tfl.layers.dense({ units: 16, activation: 'relu' }),
    tfl.layers.dense({ units: 10 }), // logits: the loss applies the softmax
  ] });
  const optimizer = tf.train.momentum(0.05, 0.9);

  const regret = new RegretPlugin({ network: { enabled: false }, layers: { layers: [1] }, neurons: { layers: [1], perLayer: 8 } });
  const activation = new ActivationPlugin({ probeSize: 200 });
  // `inputs`: where the activation plugin draws its probe images from (the loop has no other).
  const lens = instrument(model, { loss: 'softmaxCrossEntropy', plugins: [regret, activation], inputs: x, epochs });

  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let s = 0; s < x.shape[0]; s += batchSize) {
      const n = Math.min(batchSize, x.shape[0] - s);
      const [xb, yb] = [tf.slice(x, s, n), tf.slice(y, s, n)];
      // Your step, untouched: here tf.variableGrads + applyGradients.
      await lens.round(xb, yb, () => tf.tidy(() => {
        const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(yb, model.apply(xb) as tf.Tensor) as tf.Scalar);
        optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      }));
      tf.dispose([xb, yb]);
    }
    await lens.epochEnd(); // regret checkpoints and activation snapshots happen here
  }
  const summary = await lens.end();

  log(`hand-written loop: ${summary.rounds} rounds, loss ℓ_n ${regret.losses[0].toFixed(3)} → ${regret.losses.at(-1)!.toFixed(3)}`);
  for (const [scope, s] of Object.entries(regret.results.scopes)) {
    log(`  ${scope}: regret / √N per epoch ${s.checkpoints.map((c) => c.summary.mean.toFixed(4)).join(', ')}`);
  }
  log(`  activation novelty per epoch: ${activation.final!.novelty.slice(1).map((p) => p.normalized!.toFixed(4)).join(', ')}`);
  tf.dispose([x, y]);
  model.dispose();
  return { summary, regret: regret.results, activation: activation.final! };
}

if (process.argv[1]?.endsWith('hand-written-loop/index.js')) await main();
