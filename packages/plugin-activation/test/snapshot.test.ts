// Snapshot bits against the trainer's own forward pass, chunking, and tensor bookkeeping.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Trainer, modelAnatomy, selectBackend } from '@taylorlens/core';
import { ActivationPlugin, ActivationRecorder, configurationSnapshot, rowBytes, selectUnits, unpackRows } from '../src/index.js';
import { randomData, tinyConv, tinyDense } from '../../core/test/helpers/models.js';

beforeAll(async () => { await selectBackend('wasm'); });

/**
 * Trains with a batch that is the whole data set, in order, and a snapshot after every round,
 * so snapshot k (weights W_{k+1}) must equal the masks of round k+1's own forward pass.
 */
async function compareWithTrainer(model: tfl.Sequential, x: tf.Tensor, y: tf.Tensor, options: object, rounds: number) {
  model.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.2) });
  const plugin = new ActivationPlugin({ probe: x, every: { rounds: 1 }, ...options });
  const trainer = new Trainer(model, { plugins: [plugin] });
  trainer.require({ preActivations: true });
  const seen: Uint8Array[] = [];
  trainer.hooks.afterForward.tapPromise('test', async (ctx) => {
    const sel = plugin.recorder.selection!;
    const D = ctx.capture.batchSize;
    const M2 = sel.bitUnits;
    const flags = new Uint8Array(D * M2);
    for (const l of sel.layers.filter((q) => q.file === 'bits')) {
      const a = await ctx.capture.layers[l.layer!].preActivation!.data();
      for (let d = 0; d < D; d++) {
        for (let j = 0; j < l.indices.length; j++) flags[d * M2 + l.offset + j] = a[d * l.total + l.indices[j]] > 0 ? 1 : 0;
      }
    }
    seen.push(flags);
  });
  await trainer.fit(x, y, { epochs: rounds, batchSize: x.shape[0], shuffle: false });
  const t = plugin.tensor!;
  expect(t.snapshots).toBe(rounds + 1);
  for (let k = 0; k < rounds; k++) expect(Buffer.from(t.unpack(k)).equals(Buffer.from(seen[k]))).toBe(true);
  return { plugin, seen };
}

describe('snapshots', () => {
  it('equal the ReLU masks of the trainer\'s forward pass at the same weights (dense)', async () => {
    const { x, y } = randomData(16, [5], 6, 11);
    const { plugin, seen } = await compareWithTrainer(tinyDense([5, 9, 4, 6], 3), x, y, {}, 4);
    expect(plugin.recorder.selection!.units).toBe(13);
    // Not a vacuous match: both values occur, and the configuration moved during training.
    const all = seen.flatMap((s) => Array.from(s));
    expect(all).toContain(0);
    expect(all).toContain(1);
    expect(plugin.novelty.slice(1).some((p) => (p.raw ?? 0) > 0)).toBe(true);
    tf.dispose([x, y]);
  });

  it('equal the masks for conv layers, with channels × positions sampled per layer', async () => {
    const { x, y } = randomData(12, [8, 8, 2], 4, 5);
    const { plugin } = await compareWithTrainer(tinyConv(2), x, y, { maxUnitsPerLayer: { conv2d: 20 }, choices: true }, 3);
    const sel = plugin.recorder.selection!;
    // The ReLU units in the bit file; the 2×2 max-pool windows (4 pieces, 2 bits each) in the pieces file.
    expect(sel.layers.map((l) => [l.kind, l.total, l.indices.length, l.offset, l.file, l.pieces])).toEqual([
      ['conv2d', 192, 20, 0, 'bits', 2], ['conv2d', 48, 20, 20, 'bits', 2], ['pool', 48, 48, 0, 'pieces', 4], ['pool', 12, 12, 48, 'pieces', 4],
    ]);
    expect(sel.layers.map((l) => [l.bitOffset, l.fieldBits])).toEqual([[null, 1], [null, 1], [0, 2], [96, 2]]);
    expect([sel.bitUnits, sel.pieceUnits, sel.units, sel.pieceRowBits]).toEqual([40, 60, 100, 128]);
    for (const l of sel.layers) {
      for (let j = 1; j < l.indices.length; j++) expect(l.indices[j]).toBeGreaterThan(l.indices[j - 1]);
    }
    tf.dispose([x, y]);
  });

  it('are the same bits whatever the chunk size', async () => {
    const model = tinyConv(4);
    const anatomy = modelAnatomy(model);
    const { x } = randomData(23, [8, 8, 2], 4, 9);
    const sel = selectUnits(anatomy, { maxUnitsPerLayer: { conv2d: 50 }, choices: true, seed: 1 });
    const snap = await configurationSnapshot(anatomy, x, sel);
    const whole = snap.bits!;
    for (const chunk of [1, 5, 22]) {
      const other = await configurationSnapshot(model, x, sel, chunk);
      expect(Buffer.from(other.bits!).equals(Buffer.from(whole))).toBe(true);
      expect(Buffer.from(other.pieces!).equals(Buffer.from(snap.pieces!))).toBe(true);
    }
    expect(whole.length).toBe(23 * rowBytes(sel.bitUnits));
    // Spot-check one unit against a plain layers-API forward pass of the first conv layer.
    const pre = tf.tidy(() => {
      const [k, b] = model.layers[0].getWeights();
      return tf.reshape(tf.add(tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'same'), b), [23, 192]);
    });
    const a = await pre.data();
    const bits = unpackRows(whole, 23, sel.bitUnits);
    const l0 = sel.layers[0];
    for (let d = 0; d < 23; d++) for (let j = 0; j < l0.indices.length; j++) expect(bits[d * sel.bitUnits + j]).toBe(a[d * 192 + l0.indices[j]] > 0 ? 1 : 0);
    tf.dispose([x, pre]);
  });

  it('keep tf.memory().numTensors flat over many snapshots', async () => {
    const model = tinyConv(6);
    const { x } = randomData(40, [8, 8, 2], 4, 2);
    const rec = new ActivationRecorder(new ActivationPlugin({ chunkSize: 16, choices: true }).options);
    rec.setTrainingData(x);
    const anatomy = modelAnatomy(model);
    await rec.begin({ model, anatomy, batchesPerEpoch: null, start: { epoch: 0, round: 0 }, outDir: null });
    const after1 = tf.memory().numTensors;
    for (let i = 1; i <= 60; i++) await rec.snapshot({ epoch: i, round: i });
    expect(tf.memory().numTensors).toBe(after1);
    expect(rec.tensor!.snapshots).toBe(61);
    rec.dispose(); // the drawn probe set
    expect(tf.memory().numTensors).toBe(after1 - 1);
    x.dispose();
  });

  it('leave no tensors behind in a trainer run', async () => {
    const { x, y } = randomData(32, [5], 6, 4);
    const model = tinyDense([5, 9, 4, 6], 8);
    model.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.1) });
    const plugin = new ActivationPlugin({ probeSize: 20, every: { rounds: 1 } }).setTrainingData(x);
    const before = tf.memory().numTensors;
    await new Trainer(model, { plugins: [plugin] }).fit(x, y, { epochs: 5, batchSize: 8 });
    expect(plugin.tensor!.snapshots).toBe(21);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
  });
});

afterAll(() => { tf.disposeVariables(); });
