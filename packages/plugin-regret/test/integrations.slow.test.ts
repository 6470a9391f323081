// Issue 14, the longer checks: the conv net's numbers across integrations, cross-entropy (where
// tfjs's own step rounds differently), and tensors flat over 500 rounds in every integration with
// every plugin on (regret at every scope, activation, a taylorlens optimizer reporting its steps).
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { fitWith, instrument, meanSquaredError, selectBackend, STAGE_ANALYZE, tensorBatches, Trainer, type Lens, type Plugin } from '@taylorlens/core';
import { ActivationPlugin } from '@taylorlens/plugin-activation';
import { adam } from '@taylorlens/plugin-optimizers';
import { RegretPlugin } from '@taylorlens/plugin-regret';
import { tinyDense, randomData } from '../../core/test/helpers/models.js';
import { BATCH, checkSameNumbers, IN_ORDER, REGRET, type Run } from './helpers/integrations.js';
import { dataFor, NETS } from './helpers/nets.js';

beforeAll(async () => { await selectBackend('cpu'); });

describe('the same numbers wherever training runs (cpu)', () => {
  it(`${NETS[2].name}: bit for bit, in order (SGD) and shuffled (Adam)`, () => checkSameNumbers(NETS[2]));

  it('cross-entropy on a softmax model: model.fit steps with tfjs\'s loss (log of clipped probabilities), so the numbers agree to float32 rounding', async () => {
    // tfjs's compiled categoricalCrossentropy and the Trainer's softmax cross-entropy on logits are
    // the same function rounded differently: the trajectories part by ~1e-7 per step (measured:
    // 1.2e-6 relative, 1.4e-6 absolute on these numbers), hence 1e-5.
    const net = NETS[3];
    const { x, y } = dataFor(net, 6 * BATCH, 3);
    const numbers = async (run: Run) => {
      const model = net.make() as tfl.Sequential;
      model.add(tfl.layers.activation({ activation: 'softmax' }));
      model.compile({ loss: 'categoricalCrossentropy', optimizer: tf.train.sgd(0.1) });
      const regret = new RegretPlugin(REGRET);
      await run(model, [regret], x, y);
      const out: number[] = [];
      for (const s of Object.values(regret.results.scopes)) for (const c of s.checkpoints) out.push(c.cumulativeLoss, ...c.ball.phi, ...c.ball.regret);
      model.dispose();
      return out;
    };
    const a = await numbers(IN_ORDER['the Trainer']);
    for (const name of ['model.fit, shuffle false', 'the drop-in fit, shuffle false', 'model.fitDataset']) {
      const b = await numbers(IN_ORDER[name]);
      expect(b).toHaveLength(a.length);
      b.forEach((v, i) => expect(Math.abs(v - a[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(a[i]))));
    }
    tf.dispose([x, y]);
  });
});

describe('tf.memory().numTensors flat over 500 rounds, every plugin on', () => {
  const ROUNDS = 500;
  const B = 2;
  // The network scope stores one round: the rounds it stores stay partly on the device by design
  // (bounded by budget.memoryMB), in the Trainer as anywhere, which is not what this measures.
  const plugins = (): Plugin[] => [
    new RegretPlugin({ network: { every: ROUNDS }, layers: { every: 1 }, neurons: { perLayer: 2, every: 1, subBatch: null }, budget: { maxOverhead: 1e6 }, trace: false }),
    new ActivationPlugin({ probeSize: 8, every: { rounds: 100 } }),
  ];
  /** A step-report reader too, so the optimizer's reports are made and disposed each round. */
  const watch = (trainer: Trainer, counts: number[]) => {
    trainer.hooks.afterStep.tap({ name: 'reports', stage: STAGE_ANALYZE }, (o) => { if (!o.direction || !o.stepSize) throw new Error('no step report'); });
    trainer.hooks.afterBatch.tap({ name: 'count', stage: STAGE_ANALYZE }, () => { counts.push(tf.memory().numTensors); });
  };
  const runs: Record<string, (m: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor, counts: number[]) => Promise<unknown>> = {
    'the Trainer': (m, x, y, counts) => { const t = new Trainer(m, { plugins: plugins() }); watch(t, counts); return t.fit(x, y, { epochs: 1, batchSize: B, seed: 1 }); },
    'a hand-written loop': async (m, x, y, counts) => {
      const lens: Lens = instrument(m, { plugins: plugins(), inputs: x });
      watch(lens.trainer, counts);
      for (let s = 0; s < x.shape[0]; s += B) {
        const [xb, yb] = [tf.slice(x, s, B), tf.slice(y, s, B)];
        await lens.round(xb, yb, () => m.optimizer.minimize(() => meanSquaredError.compute(m.apply(xb, { training: true }) as tf.Tensor, yb)));
        tf.dispose([xb, yb]);
      }
      return lens.end();
    },
    'model.fitDataset': (m, x, y, counts) => {
      const lens = instrument(m, { plugins: plugins() });
      watch(lens.trainer, counts);
      return m.fitDataset(lens.wrap(tensorBatches(x, y, { batchSize: B, shuffle: true, seed: 1 })), { epochs: 1, verbose: 0, callbacks: [lens.callback()] });
    },
    'model.fit': (m, x, y, counts) => {
      const lens = instrument(m, { plugins: plugins() });
      watch(lens.trainer, counts);
      return m.fit(x, y, { epochs: 1, batchSize: B, shuffle: false, verbose: 0, callbacks: [lens.callback(x, y)] });
    },
    'the drop-in fit': (m, x, y, counts) => {
      const lens = instrument(m, { plugins: plugins() });
      watch(lens.trainer, counts);
      return fitWith(lens, x, y, { epochs: 1, batchSize: B, seed: 1, verbose: 0 });
    },
  };
  for (const [name, run] of Object.entries(runs)) {
    it(name, async () => {
      const { x, y } = randomData(ROUNDS * B, [5], 6, 3);
      const m = tinyDense();
      m.compile({ loss: 'meanSquaredError', optimizer: adam({ learningRate: 0.01 }) });
      // The optimizer's state and cached constants (of its reporting steps too), before counting.
      const [x0, y0] = [tf.slice(x, 0, 2), tf.slice(y, 0, 2)];
      await m.fit(x0, y0, { epochs: 1, verbose: 0 });
      await new Trainer(m).fit(x0, y0, { epochs: 1 });
      tf.dispose([x0, y0]);
      const before = tf.memory().numTensors;
      const counts: number[] = [];
      await run(m, x, y, counts);
      // The regret statistics buffer rounds on the device and reduce them in batches, so the count
      // cycles; flat means the second half of the run peaks where the first did, and nothing is left.
      expect(counts).toHaveLength(ROUNDS);
      expect(Math.max(...counts.slice(ROUNDS / 2))).toBe(Math.max(...counts.slice(0, ROUNDS / 2)));
      expect(Math.min(...counts.slice(ROUNDS / 2))).toBe(Math.min(...counts.slice(0, ROUNDS / 2)));
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, y]);
      m.dispose();
    });
  }
});
