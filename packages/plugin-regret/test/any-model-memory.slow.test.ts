// Issue 13: tf.memory().numTensors flat over 500 rounds on the ResNet-style block (a graph with
// BatchNormalization and a residual add) with every plugin on: regret at layer and neuron scope
// every round (stored rounds: cross-entropy), the activation plugin, and a taylorlens optimizer
// that reports its steps, and the network scope (its rounds stored as recorded: one in ten). In the Trainer and in
// a hand-written loop (instrument(): taylorlens's own observing pass beside the user's step).
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { instrument, selectBackend, STAGE_ANALYZE, Trainer } from '@taylorlens/core';
import { ActivationPlugin } from '@taylorlens/plugin-activation';
import { adam } from '@taylorlens/plugin-optimizers';
import { RegretPlugin } from '@taylorlens/plugin-regret';
import { randomData, resnetBlock } from '../../core/test/helpers/models.js';

const ROUNDS = 500;
const B = 2;

const plugins = () => ({
  regret: new RegretPlugin({ network: { every: 10 }, layers: { every: 1 }, neurons: { perLayer: 2, every: 1, subBatch: null }, budget: { maxOverhead: 1e6 }, trace: false }),
  activation: new ActivationPlugin({ probeSize: 8, every: { rounds: 100 } }),
});

/** Every round: the optimizer's step report is there (so it is made and disposed), and the tensor count. */
function watch(trainer: Trainer, counts: number[]): () => number {
  let reports = 0;
  trainer.hooks.afterStep.tap({ name: 'reports', stage: STAGE_ANALYZE }, (o) => { if (!o.direction || !o.stepSize) throw new Error('no step report'); reports++; });
  trainer.hooks.afterBatch.tap({ name: 'count', stage: STAGE_ANALYZE }, () => { counts.push(tf.memory().numTensors); });
  return () => reports;
}

type Run = (m: tfl.LayersModel, p: ReturnType<typeof plugins>, x: tf.Tensor, y: tf.Tensor, counts: number[]) => Promise<{ reports: number; layers: number }>;

const RUNS: Record<string, Run> = {
  'the Trainer': async (m, p, x, y, counts) => {
    const trainer = new Trainer(m, { plugins: [p.regret, p.activation] });
    const reports = watch(trainer, counts);
    await trainer.fit(x, y, { epochs: 1, batchSize: B, seed: 1 });
    return { reports: reports(), layers: trainer.anatomy.layers.length };
  },
  'a hand-written loop': async (m, p, x, y, counts) => {
    const lens = instrument(m, { plugins: [p.regret, p.activation], inputs: x });
    const reports = watch(lens.trainer, counts);
    const opt = (m as unknown as { optimizer: tf.Optimizer }).optimizer;
    const lossOf = (xb: tf.Tensor, yb: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(yb, tf.log(tf.clipByValue(m.apply(xb, { training: true }) as tf.Tensor, 1e-7, 1))), -1))) as tf.Scalar;
    for (let s = 0; s < x.shape[0]; s += B) {
      const [xb, yb] = [tf.slice(x, s, B), tf.slice(y, s, B)];
      await lens.round(xb, yb, () => opt.minimize(() => lossOf(xb, yb)));
      tf.dispose([xb, yb]);
    }
    await lens.end();
    return { reports: reports(), layers: lens.trainer.anatomy.layers.length };
  },
};

describe('tf.memory().numTensors flat over 500 rounds on the ResNet-style block, every plugin on (cpu)', () => {
  beforeAll(async () => { await selectBackend('cpu'); });

  for (const [name, run] of Object.entries(RUNS)) {
    it(name, async () => {
      const { x, y } = randomData(ROUNDS * B, [6, 6, 2], 3, 3, true);
      const m = resnetBlock(3);
      m.compile({ loss: 'categoricalCrossentropy', optimizer: adam({ learningRate: 0.01 }) });
      // The optimizer's state and cached constants (of its reporting steps too), before counting.
      const [x0, y0] = [tf.slice(x, 0, B), tf.slice(y, 0, B)];
      await m.fit(x0, y0, { epochs: 1, verbose: 0 });
      await new Trainer(m).fit(x0, y0, { epochs: 1 });
      tf.dispose([x0, y0]);
      const before = tf.memory().numTensors;
      const p = plugins();
      const counts: number[] = [];
      const t0 = performance.now();
      const { reports, layers } = await run(m, p, x, y, counts);
      console.log(`ResNet-style block, ${name}, ${ROUNDS} rounds with every plugin: ${Math.round(performance.now() - t0)} ms`);
      expect(reports).toBe(ROUNDS);
      // Every layer and neuron scope recorded every round; the activation plugin took its snapshots.
      const scopes = Object.values(p.regret.results.scopes);
      expect(scopes.length).toBe(2 * layers + 1);
      for (const s of scopes) expect(s.checkpoints.at(-1)!.recordedRounds).toBe(s.kind === 'network' ? ROUNDS / 10 : ROUNDS);
      // Flat: the count cycles (each scope's trajectory buffers one displacement a round and folds
      // ten at a time into its farthest distance: measured 107 → 171 → 107 over 9 rounds in the
      // Trainer, 8 scopes), and round 1 is lower (99: nothing buffered yet), so the first WARMUP
      // rounds are left out. After them the second half of the run peaks and dips where the first
      // did, and a run leaves nothing behind.
      const WARMUP = 20;
      expect(counts).toHaveLength(ROUNDS);
      const [first, second] = [counts.slice(WARMUP, (ROUNDS + WARMUP) / 2), counts.slice((ROUNDS + WARMUP) / 2)];
      expect(Math.max(...second)).toBe(Math.max(...first));
      expect(Math.min(...second)).toBe(Math.min(...first));
      expect(tf.memory().numTensors).toBe(before);
      p.regret.dispose();
      tf.dispose([x, y]);
      m.dispose();
    });
  }
});
