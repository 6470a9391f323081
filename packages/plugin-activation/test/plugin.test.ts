// Both worlds (trainer plugin, model.fit callback), events and rows, checkpoints, options.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { OptionsError, STAGE_PREPARE, SeededRandom, Trainer, selectBackend, type MetricsRow, type TrainerState } from '@taylorlens/core';
import { ActivationPlugin, activationCallback, taylorlensPlugin, type SnapshotEvent } from '../src/index.js';
import { randomData, tinyDense } from '../../core/test/helpers/models.js';
import { tempStore } from './helpers/store.js';

const stores: ReturnType<typeof tempStore>[] = [];
beforeAll(async () => { await selectBackend('wasm'); });
afterAll(() => { for (const s of stores) s.remove(); });

/** ReLU masks of a dense chain's hidden layers for `x`, by hand from the layer weights: D × M, row-major. */
async function handMasks(model: tfl.Sequential, x: tf.Tensor, hidden: number): Promise<number[]> {
  const parts = tf.tidy(() => {
    let h = x;
    const out: tf.Tensor[] = [];
    for (let l = 0; l < hidden; l++) {
      const [k, b] = model.layers[l].getWeights();
      const a = tf.add(tf.matMul(h, k), b);
      out.push(tf.cast(tf.greater(a, 0), 'int32'));
      h = tf.relu(a);
    }
    return tf.concat(out, 1);
  });
  const v = Array.from(await parts.data());
  parts.dispose();
  return v;
}

describe('model.fit callback', () => {
  it('records a snapshot at the start and per epoch, fills the rows and computes the measures', async () => {
    const { x, y } = randomData(30, [5], 6, 21);
    const model = tinyDense([5, 9, 4, 6], 21);
    model.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.3) });
    const tracker = new ActivationPlugin({ probeSize: 12, seed: 4 }).setTrainingData(x);
    const callback = tracker.asCallback();
    const initial = await handMasks(model, tf.gather(x, tf.tensor1d(new SeededRandom(4).sample(30, 12), 'int32')), 2);
    await model.fit(x, y, { epochs: 3, batchSize: 10, shuffle: true, verbose: 0, callbacks: [callback] });

    const t = tracker.tensor!;
    expect([t.snapshots, t.probes, t.units]).toEqual([4, 12, 13]);
    expect(Array.from(t.unpack(0))).toEqual(initial);
    const probe = tf.gather(x, tf.tensor1d(new SeededRandom(4).sample(30, 12), 'int32'));
    expect(Array.from(t.unpack(3))).toEqual(await handMasks(model, probe, 2));
    expect(tracker.recorder.positions).toEqual([{ epoch: 0, round: 0 }, { epoch: 1, round: 3 }, { epoch: 2, round: 6 }, { epoch: 3, round: 9 }]);
    expect(callback.rows).toHaveLength(3);
    callback.rows.forEach((row, e) => {
      expect(row['activation.novelty']).toBe(tracker.novelty[e + 1].raw);
      expect(row['activation.novelty_normalized']).toBeCloseTo((tracker.novelty[e + 1].raw ?? NaN) / (12 * 13), 12);
    });
    const m = tracker.final!;
    expect(m.switches.perPoint).toHaveLength(12);
    expect(m.singularValues.perUnit).toHaveLength(13);
    expect(m.singularValues.k).toBe(4);
    expect(m.switches.counts.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    tf.dispose([x, y, probe]);
  });

  it('snapshots every k rounds with activationCallback and a probe passed in', async () => {
    const { x, y } = randomData(24, [5], 6, 22);
    const model = tinyDense([5, 9, 4, 6], 22);
    model.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.3) });
    const seen: SnapshotEvent[] = [];
    const cb = activationCallback({ probe: x, every: { rounds: 2 }, atStart: false }, { onSnapshot: (e) => seen.push(e) });
    await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, callbacks: [cb] });
    expect(seen.map((e) => [e.index, e.round, e.epoch])).toEqual([[0, 2, 2 / 3], [1, 4, 4 / 3], [2, 6, 2]]);
    expect(seen[0].novelty).toBeNull();
    expect(cb.recorder.tensor!.probes).toBe(24);
    expect(Array.from(cb.recorder.tensor!.unpack(2))).toEqual(await handMasks(model, x, 2));
    expect(x.isDisposed).toBe(false); // a probe passed in stays the caller's
    tf.dispose([x, y]);
  });
});

describe('trainer plugin', () => {
  it('emits activation:snapshot and puts novelty into the epoch rows, drawing the probe set from fit\'s x', async () => {
    const { x, y } = randomData(40, [5], 6, 23);
    const model = tinyDense([5, 9, 4, 6], 23);
    model.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.3) });
    // As the CLI builds it: from JSON options, no setTrainingData.
    const plugin = taylorlensPlugin.create!({ probeSize: 16, seed: 5, every: { epochs: 2 } }) as ActivationPlugin;
    const trainer = new Trainer(model, { plugins: [plugin] });
    expect(trainer.describeTaps()).toContain('afterEpoch: activation');
    const events: SnapshotEvent[] = [];
    const rows: MetricsRow[] = [];
    trainer.events.on('activation:snapshot', (e) => events.push(e as SnapshotEvent));
    trainer.events.on('epoch', (r) => rows.push({ ...r }));
    const initial = await handMasks(model, tf.gather(x, tf.tensor1d(new SeededRandom(5).sample(40, 16), 'int32')), 2);
    await trainer.fit(x, y, { epochs: 4, batchSize: 10 });
    expect(plugin.recorder.probeSpec).toEqual({ source: 'drawn', indices: new SeededRandom(5).sample(40, 16) });
    expect(Array.from(plugin.tensor!.unpack(0))).toEqual(initial);
    expect(events.map((e) => [e.index, e.epoch, e.round])).toEqual([[0, 0, 0], [1, 2, 8], [2, 4, 16]]);
    expect(rows.map((r) => 'activation.novelty' in r)).toEqual([false, true, false, true]);
    expect(rows[1]['activation.novelty']).toBe(events[1].novelty);
    expect(rows[3]['activation.novelty_normalized']).toBe(events[2].novelty_normalized);
    tf.dispose([x, y]);
  });

  it('in model.fit without a probe or setTrainingData, says what to do', async () => {
    const { x, y } = randomData(10, [5], 6, 26);
    const model = tinyDense([5, 9, 4, 6], 26);
    model.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.3) });
    await expect(model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [activationCallback()] })).rejects.toThrow(/setTrainingData/);
    tf.dispose([x, y]);
  });

  describe('checkpoints: a resumed run continues the configuration tensor', () => {
    async function train(epochs: number, withStore: boolean, resume?: { state: TrainerState; weights: tf.Tensor[] }, checkpointEarly = false) {
      const { x, y } = randomData(40, [5], 6, 24);
      const model = tinyDense([5, 9, 4, 6], 24);
      if (resume) model.setWeights(resume.weights);
      model.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.3) });
      const store = withStore ? tempStore() : undefined;
      if (store) stores.push(store);
      const plugin = new ActivationPlugin({ probeSize: 15 }).setTrainingData(x);
      const trainer = new Trainer(model, { plugins: [plugin], store });
      let state: TrainerState | undefined;
      if (checkpointEarly) {
        // A checkpointer that runs before the plugin's epoch-end snapshot: the resumed run must catch up.
        trainer.hooks.afterEpoch.tap({ name: 'ckpt', stage: STAGE_PREPARE }, () => { state = trainer.state(); });
      }
      await trainer.fit(x, y, { epochs, batchSize: 10, seed: 9, resume: resume?.state });
      state ??= trainer.state();
      const weights = model.getWeights().map((w) => w.clone());
      tf.dispose([x, y]);
      return { plugin, state: JSON.parse(JSON.stringify(state)) as TrainerState, weights };
    }

    it.each([
      ['inline bits (no run folder)', false, false],
      ['bits in the run folder\'s .npy', true, false],
      ['checkpoint taken before the epoch-end snapshot', true, true],
    ])('%s', async (_name, withStore, early) => {
      const full = await train(4, false);
      const first = await train(2, withStore, undefined, early);
      expect(first.plugin.tensor!.snapshots).toBe(3);
      const state = first.state.plugins.activation as { packed: string | null; file: string | null; snapshots: number };
      expect(state.snapshots).toBe(early ? 2 : 3);
      expect(state.packed === null).toBe(withStore);
      const second = await train(4, withStore, { state: first.state, weights: first.weights });
      const [a, b] = [full.plugin.tensor!, second.plugin.tensor!];
      expect(b.snapshots).toBe(5);
      expect(Buffer.from(b.unpack()).equals(Buffer.from(a.unpack()))).toBe(true);
      expect(second.plugin.recorder.positions).toEqual(full.plugin.recorder.positions);
      expect(second.plugin.novelty).toEqual(full.plugin.novelty);
      tf.dispose([...first.weights, ...second.weights, ...full.weights]);
    });
  });
});

describe('options', () => {
  it('fills defaults and rejects bad options by name', () => {
    const p = new ActivationPlugin();
    expect(p.options).toMatchObject({ probeSize: 1000, seed: 0, every: { epochs: 1 }, atStart: true, maxUnitsPerLayer: { conv2d: 2000 }, floor: 1e-6, singularValues: 50 });
    expect(() => new ActivationPlugin({ every: { rounds: 0 } })).toThrow(OptionsError);
    expect(() => new ActivationPlugin({ probeSise: 5 } as never)).toThrow(/probeSise/);
    expect(() => new ActivationPlugin({ floor: 0 })).toThrow(/floor/);
  });

  it('observes named layers, and refuses names the model lacks', async () => {
    const { x, y } = randomData(10, [5], 6, 25);
    const model = tinyDense([5, 9, 4, 6], 25);
    model.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.1) });
    const p = new ActivationPlugin({ probe: x, layers: [1] });
    await new Trainer(model, { plugins: [p] }).fit(x, y, { epochs: 1, batchSize: 5 });
    expect(p.recorder.selection!.layers.map((l) => [l.layer, l.total])).toEqual([[1, 4]]);
    const bad = new ActivationPlugin({ probe: x, layers: ['nope'] });
    await expect(new Trainer(model, { plugins: [bad] }).fit(x, y, { epochs: 1 })).rejects.toThrow(/no layer "nope"/);
    tf.dispose([x, y]);
  });
});
