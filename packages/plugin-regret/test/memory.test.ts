import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { captureForward, meanSquaredError, modelAnatomy, selectBackend, softmaxCrossEntropy, STAGE_ANALYZE, Trainer } from '@taylorlens/core';
import { outputJacobians, RegretPlugin } from '@taylorlens/plugin-regret';
import { tinyDense, randomData } from '../../core/test/helpers/models.js';
import { dataFor, NETS } from './helpers/nets.js';

describe('bounded memory', () => {
  beforeAll(async () => { await selectBackend('cpu'); });

  it('squared error: memory after 1,000 rounds equals memory after 10 (the statistics do not grow)', async () => {
    const model = tinyDense([5, 4, 3, 6], 1);
    const plugin = new RegretPlugin({ network: { enabled: false }, neurons: { perLayer: 'all' }, trace: false, budget: { maxOverhead: 1e6 } });
    const optimizer = tf.train.adam(0.01);
    const trainer = new Trainer(model, { loss: meanSquaredError, optimizer, plugins: [plugin] });
    const seen: Record<number, { tensors: number; bytes: number; plugin: number }> = {};
    trainer.hooks.afterBatch.tapPromise({ name: 'test', stage: STAGE_ANALYZE }, async (ctx) => {
      if (ctx.round === 10 || ctx.round === 1000) {
        const m = tf.memory();
        seen[ctx.round] = { tensors: m.numTensors, bytes: m.numBytes, plugin: plugin.scopes.reduce((s, sc) => s + sc.usage().memoryBytes, 0) };
      }
    });
    const { x, y } = randomData(2000, [5], 6, 3);
    await trainer.fit(x, y, { epochs: 1, batchSize: 2, shuffle: false });
    // 1000 % 64 = 40 and 10 < 64: both moments hold unflushed device sums, of the same shapes.
    expect(seen[1000]).toEqual(seen[10]);
    expect(seen[10].plugin).toBeGreaterThan(0);
    const ckpt = plugin.results.scopes['layer:dense_Dense1'].checkpoints.at(-1)!;
    expect(ckpt.recordedRounds).toBe(1000);
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
  });

  for (const net of NETS) {
    it(`${net.name}: tf.memory().numTensors is flat over a run with every scope`, async () => {
      const { x, y } = dataFor(net, 12, 2);
      // The most tensors alive at any point of a run does not depend on its length, and a run leaves none behind.
      const peak: number[] = [];
      for (const epochs of [2, 4]) {
        const model = net.make();
        const optimizer = tf.train.sgd(0.1);
        const trainer = new Trainer(model, { loss: net.loss, optimizer });
        await trainer.fit(x, y, { epochs: 1, batchSize: 3 }); // the optimizer's own state, before counting
        const before = tf.memory().numTensors;
        const plugin = new RegretPlugin({
          network: { every: 2 }, layers: { every: 1 }, neurons: { perLayer: 2, subBatch: 2, every: 1 }, trace: false, budget: { maxOverhead: 1e6 },
          readings: ['hindsight', 'perRound'], perRound: { every: 2 },
        });
        trainer.use(plugin);
        let most = 0;
        trainer.hooks.afterBatch.tapPromise({ name: 'test', stage: STAGE_ANALYZE }, async () => { most = Math.max(most, tf.memory().numTensors - before); });
        await trainer.fit(x, y, { epochs, batchSize: 3, shuffle: true, seed: 1 });
        expect(tf.memory().numTensors).toBe(before);
        expect(Object.keys(plugin.results.scopes).length).toBeGreaterThan(3);
        peak.push(most);
        model.dispose();
        optimizer.dispose();
      }
      expect(peak[1]).toBe(peak[0]);
      tf.dispose([x, y]);
    });
  }
});

describe('a unit that never fires', () => {
  beforeAll(async () => { await selectBackend('cpu'); });

  for (const loss of [meanSquaredError, softmaxCrossEntropy]) {
    it(`${loss.name}: zero Jacobian columns and regret exactly 0`, async () => {
      const model = tinyDense([5, 4, 3, 4], 2);
      // Unit 1 of the first hidden layer: bias −100, so its pre-activation is negative on every input.
      const [k0, b0] = model.layers[0].getWeights();
      const bias = b0.arraySync() as number[];
      bias[1] = -100;
      const b1 = tf.tensor1d(bias);
      model.layers[0].setWeights([k0, b1]);
      b1.dispose();
      const { x, y } = randomData(24, [5], 4, 5, loss === softmaxCrossEntropy);
      const cap = captureForward(modelAnatomy(model, { lossAbsorbs: loss.absorbs }), x);
      const J = outputJacobians(cap.anatomy, cap, [0], 24).get(0)!;
      const column = tf.tidy(() => tf.max(tf.abs(tf.slice(J, [0, 0, 1], [-1, -1, 1]))).dataSync()[0]);
      expect(column).toBe(0);
      tf.dispose(J);
      cap.dispose();
      const plugin = new RegretPlugin({ neurons: { perLayer: 'all', subBatch: null }, trace: false, budget: { maxOverhead: 1e6 } });
      const optimizer = tf.train.adam(0.05);
      const trainer = new Trainer(model, { loss, optimizer, plugins: [plugin] });
      await trainer.fit(x, y, { epochs: 2, batchSize: 4, shuffle: true, seed: 3 });
      const rec = plugin.results.scopes[`neurons:${trainer.anatomy.layers[0].name}`];
      const last = rec.checkpoints.at(-1)!;
      const dead = rec.units!.indexOf(1);
      expect(last.ball.regret[dead]).toBe(0);
      expect(last.ball.phi[dead]).toBe(last.cumulativeLoss);
      if (last.unconstrained) expect(last.unconstrained.regret[dead]).toBe(0);
      // A live unit has non-zero regret in general.
      expect(last.ball.regret.some((r) => r !== 0)).toBe(true);
      tf.dispose([x, y]);
      model.dispose();
      optimizer.dispose();
    });
  }
});
