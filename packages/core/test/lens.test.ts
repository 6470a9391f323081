// instrument(): taylorlens inside the user's own training — a hand-written loop, model.fitDataset,
// model.fit and the drop-in fit — driven through the Trainer's round pipeline. Plugins here are
// plain hook taps; the plugins' numbers across integrations are in plugin-regret's integrations test.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  fit, instrument, Plugin, selectBackend, StopTraining, streamSamples, tensorBatches, Trainer, type BatchContext, type Lens,
} from '@taylorlens/core';
import { randomData, tinyDense, weightsOf } from './helpers/models.js';

beforeAll(async () => { await selectBackend('cpu'); });

const same = (a: Float32Array[], b: Float32Array[]) => a.length === b.length && a.every((w, i) => Buffer.from(w.buffer).equals(Buffer.from(b[i].buffer)));
const mse = (m: tfl.LayersModel, xb: tf.Tensor, yb: tf.Tensor) => () => tf.losses.meanSquaredError(yb, m.apply(xb, { training: true }) as tf.Tensor) as tf.Scalar;

/** A hand-written loop over contiguous batches; `lens` optional (the reference runs without). */
async function loop(m: tfl.LayersModel, opt: tf.Optimizer, x: tf.Tensor, y: tf.Tensor, o: { epochs: number; batch: number; lens?: Lens }) {
  for (let e = 0; e < o.epochs; e++) {
    for (let s = 0; s < x.shape[0]; s += o.batch) {
      const size = Math.min(o.batch, x.shape[0] - s);
      const xb = tf.slice(x, s, size);
      const yb = tf.slice(y, s, size);
      if (o.lens) await o.lens.round(xb, yb, () => opt.minimize(mse(m, xb, yb)));
      else opt.minimize(mse(m, xb, yb));
      tf.dispose([xb, yb]);
    }
    await o.lens?.epochEnd();
  }
  return o.lens?.end();
}

/** Tap every hook that receives a round; record what each sees. */
function recorder(lens: Lens | Trainer) {
  const log: string[] = [];
  const h = lens.hooks;
  const vars = () => (lens instanceof Trainer ? lens : lens.trainer).anatomy.variables;
  const snap = () => vars().map((v) => Array.from(v.dataSync()));
  const seen: { before: number[][][]; after: number[][][]; direction: number[][][]; losses: number[]; x: number[][] } = { before: [], after: [], direction: [], losses: [], x: [] };
  h.beforeRun.tap('t', () => { log.push('beforeRun'); });
  h.beforeEpoch.tap('t', (e) => { log.push(`beforeEpoch:${e.epoch}`); });
  h.beforeBatch.tap('t', (c) => { log.push(`beforeBatch:${c.round}`); seen.x.push(Array.from(c.capture.x.dataSync())); });
  h.afterForward.tap('t', () => { log.push('afterForward'); });
  h.afterBackward.tap('t', (c: BatchContext) => { log.push('afterBackward'); seen.losses.push(c.loss); });
  h.beforeStep.tap('t', () => { log.push('beforeStep'); seen.before.push(snap()); });
  h.afterStep.tap('t', (o) => {
    log.push('afterStep');
    seen.after.push(o.weights.map((w) => Array.from(w.dataSync())));
    seen.direction.push(vars().map((v) => Array.from(o.direction![v.name].dataSync())));
  });
  h.afterBatch.tap('t', (c) => { log.push(`afterBatch:${c.round}`); });
  h.afterEpoch.tap('t', (e) => { log.push(`afterEpoch:${e.epoch}:${e.row.round}`); });
  h.afterCancel.tap('t', (i) => { log.push(`afterCancel:${i.status}`); });
  h.afterRun.tap('t', (_r, s) => { log.push(`afterRun:${s.status}:${s.rounds}`); });
  return { log, seen };
}

describe('instrument: a hand-written loop', () => {
  it('runs the Trainer\'s hooks in its order around the user\'s step: W_n before it, W_{n+1} and the direction after, ℓ_n at W_n', async () => {
    const { x, y } = randomData(8, [5], 6);
    const m = tinyDense();
    const opt = tf.train.sgd(0.1);
    const lens = instrument(m, { loss: 'meanSquaredError', optimizer: opt });
    const { log, seen } = recorder(lens);
    const w0 = m.getWeights().map((w) => Array.from(w.dataSync()));
    const xb = tf.slice(x, 0, 4);
    const yb = tf.slice(y, 0, 4);
    const cost = await lens.round(xb, yb, () => opt.minimize(mse(m, xb, yb), true));
    const expectedLoss = tf.tidy(() => mse(tinyDense(), xb, yb)().dataSync()[0]);
    await lens.epochEnd();
    const summary = await lens.end();
    expect(log).toEqual(['beforeRun', 'beforeEpoch:0', 'beforeBatch:1', 'afterForward', 'afterBackward', 'beforeStep', 'afterStep', 'afterBatch:1', 'afterEpoch:0:1', 'afterRun:completed:1']);
    // The step's own result comes back (here the cost minimize returned).
    expect(cost!.dataSync()[0]).toBeCloseTo(expectedLoss, 6);
    expect(seen.losses[0]).toBeCloseTo(expectedLoss, 6);
    expect(seen.before[0]).toEqual(w0);
    const w1 = m.getWeights().map((w) => Array.from(w.dataSync()));
    expect(seen.after[0]).toEqual(w1);
    seen.direction[0].forEach((d, i) => d.forEach((v, j) => expect(v).toBe(Math.fround(w1[i][j] - w0[i][j]))));
    expect(summary).toMatchObject({ status: 'completed', rounds: 1, epochsCompleted: 1 });
    tf.dispose([x, y, xb, yb, cost!]);
  });

  it('does not change the user\'s training: with every capture on, the weights are those of the same loop without taylorlens, bit for bit', async () => {
    const { x, y } = randomData(20, [5], 6);
    for (const make of [() => tf.train.sgd(0.1), () => tf.train.adam(0.01), () => tf.train.momentum(0.05, 0.9)]) {
      const plain = tinyDense();
      await loop(plain, make(), x, y, { epochs: 2, batch: 6 });
      const m = tinyDense();
      const lens = instrument(m, { loss: 'meanSquaredError' });
      lens.trainer.require({ inputs: true, preActivations: true, activations: true, preActivationGrads: true, variableGrads: true });
      recorder(lens);
      await loop(m, make(), x, y, { epochs: 2, batch: 6, lens });
      expect(same(await weightsOf(m), await weightsOf(plain))).toBe(true);
    }
    tf.dispose([x, y]);
  });

  it('only counts rounds no plugin looks at: no pass, no tensor, the user\'s step untouched', async () => {
    const { x, y } = randomData(12, [5], 6);
    const m = tinyDense();
    const opt = tf.train.sgd(0.1);
    const lens = instrument(m, { loss: 'meanSquaredError' });
    const epochs: number[] = [];
    lens.hooks.afterEpoch.tap('t', (e) => { epochs.push(Number(e.row.round)); });
    const rounds: unknown[] = [];
    const during: number[] = [];
    lens.events.on('round', (r) => { rounds.push(r); during.push(tf.memory().numTensors); });
    expect(lens.opensRounds).toBe(false);
    await loop(m, opt, x, y, { epochs: 1, batch: 4 }); // warm tfjs up
    const before = tf.memory().numTensors;
    await loop(m, opt, x, y, { epochs: 2, batch: 4, lens });
    expect(during).toEqual(new Array(6).fill(before + 2)); // only the loop's own xb, yb
    expect(tf.memory().numTensors).toBe(before);
    expect(epochs).toEqual([3, 6]);
    expect(rounds).toHaveLength(6);
    expect(rounds[0]).toEqual({ round: 1, epoch: 1, loss: NaN });
    tf.dispose([x, y]);
  });

  it('ends epochs every roundsPerEpoch rounds, or where epochEnd() is called, and end() closes the last one', async () => {
    const { x, y } = randomData(12, [5], 6);
    for (const mode of ['rounds', 'explicit', 'none'] as const) {
      const m = tinyDense();
      const opt = tf.train.sgd(0.1);
      const lens = instrument(m, { loss: 'meanSquaredError', ...(mode === 'rounds' ? { roundsPerEpoch: 2 } : {}) });
      const { log } = recorder(lens);
      for (let s = 0; s < 12; s += 2) {
        const xb = tf.slice(x, s, 2);
        const yb = tf.slice(y, s, 2);
        await lens.round(xb, yb, () => opt.minimize(mse(m, xb, yb)));
        if (mode === 'explicit' && s === 6) await lens.epochEnd();
        tf.dispose([xb, yb]);
      }
      if (mode === 'rounds') await expect(lens.epochEnd()).rejects.toThrow(/every 2 rounds/);
      await lens.end();
      const ends = log.filter((l) => l.startsWith('afterEpoch'));
      expect(ends).toEqual({ rounds: ['afterEpoch:0:2', 'afterEpoch:1:4', 'afterEpoch:2:6'], explicit: ['afterEpoch:0:4', 'afterEpoch:1:6'], none: ['afterEpoch:0:6'] }[mode]);
    }
    tf.dispose([x, y]);
  });

  it('stops when a plugin throws StopTraining or the loss diverges: round() throws it, end() reports it', async () => {
    const { x, y } = randomData(16, [5], 6);
    for (const kind of ['plugin', 'diverged'] as const) {
      const m = tinyDense();
      const opt = tf.train.sgd(kind === 'diverged' ? 1e6 : 0.1);
      const lens = instrument(m, { loss: 'meanSquaredError' });
      const { log } = recorder(lens);
      if (kind === 'plugin') lens.hooks.afterBatch.tap('stopper', (c) => { if (c.round === 2) throw new StopTraining('enough'); });
      let thrown: unknown = null;
      const before = tf.memory().numTensors;
      const xb = tf.slice(x, 0, 4);
      const yb = tf.slice(y, 0, 4);
      try {
        for (let n = 0; n < 100; n++) await lens.round(xb, yb, () => opt.minimize(mse(m, xb, yb)));
      } catch (e) { thrown = e; }
      tf.dispose([xb, yb]);
      expect(thrown).toBeInstanceOf(StopTraining);
      await expect(lens.round(x, y, () => undefined)).rejects.toBe(thrown);
      const s = await lens.end();
      expect(s.status).toBe(kind === 'plugin' ? 'stopped' : 'diverged');
      expect(log.at(-2)).toBe(`afterCancel:${s.status}`);
      if (kind === 'plugin') expect(s.rounds).toBe(1);
      expect(tf.memory().numTensors).toBe(before);
    }
    tf.dispose([x, y]);
  });

  it('refuses plugins that replace the Trainer\'s step, before anything runs', async () => {
    const m = tinyDense();
    const lens = instrument(m, { loss: 'meanSquaredError' });
    lens.hooks.transformGradients.tap('clip', (g) => g);
    const x = tf.zeros([2, 5]);
    const y = tf.zeros([2, 6]);
    await expect(lens.round(x, y, () => undefined)).rejects.toThrow(/clip tap transformGradients or step/);
    tf.dispose([x, y]);
  });
});

describe('model.fitDataset with lens.wrap and lens.callback', () => {
  it('tfjs reads each batch (iterator.next) before onBatchBegin and steps after it: the wrapper holds batch n and W_n there', async () => {
    const { x, y } = randomData(10, [5], 6);
    const m = tinyDense();
    m.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.1) });
    const order: string[] = [];
    const stream = tensorBatches(x, y, { batchSize: 4, shuffle: false, seed: 0 });
    const spy = { size: stream.size, iterator: async () => { const it = await stream.iterator(); let i = 0; return { next: async () => { const r = await it.next(); order.push(r.done ? 'next:done' : `next:${i++}`); return r; } }; } };
    const lens = instrument(m);
    const { seen } = recorder(lens);
    let last: number[][] | null = null;
    const probe = new (class extends tfl.Callback {
      override async onBatchBegin(b: number) { order.push(`begin:${b}`); if (last) expect(m.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(last); }
      override async onBatchEnd(b: number) { order.push(`end:${b}`); last = m.getWeights().map((w) => Array.from(w.dataSync())); }
      override async onEpochEnd(e: number) { order.push(`epochEnd:${e}`); }
    })();
    await m.fitDataset(lens.wrap(spy), { epochs: 2, verbose: 0, callbacks: [lens.callback(), probe] });
    const epoch = ['next:0', 'begin:0', 'end:0', 'next:1', 'begin:1', 'end:1', 'next:2', 'begin:2', 'end:2', 'next:done'];
    expect(order).toEqual([...epoch, 'epochEnd:0', ...epoch, 'epochEnd:1']);
    // What the plugins saw: each batch as read, in order, and W_n = the weights before its step.
    const rows = (s: number, n: number) => Array.from(tf.slice(x, s, n).dataSync());
    expect(seen.x).toEqual([rows(0, 4), rows(4, 4), rows(8, 2), rows(0, 4), rows(4, 4), rows(8, 2)]);
    seen.before.slice(1).forEach((w, i) => expect(w).toEqual(seen.after[i]));
    tf.dispose([x, y]);
  });

  it('counts batches without holding them when no plugin looks at rounds, and says so when the dataset was not wrapped', async () => {
    const { x, y } = randomData(10, [5], 6);
    const m = tinyDense();
    m.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.1) });
    const quiet = instrument(m);
    const ends: number[] = [];
    quiet.hooks.afterEpoch.tap('t', (e) => { ends.push(Number(e.row.round)); });
    await m.fitDataset(quiet.wrap(tensorBatches(x, y, { batchSize: 4, shuffle: false, seed: 0 })), { epochs: 2, verbose: 0, callbacks: [quiet.callback()] });
    expect(ends).toEqual([3, 6]);
    const watching = instrument(m);
    watching.hooks.afterBackward.tap('t', () => undefined);
    await expect(m.fitDataset(tensorBatches(x, y, { batchSize: 4, shuffle: false, seed: 0 }), { epochs: 1, verbose: 0, callbacks: [watching.callback()] }))
      .rejects.toThrow(/lens\.wrap\(dataset\)/);
    tf.dispose([x, y]);
  });
});

describe('model.fit with lens.callback(x, y), and the drop-in fit', () => {
  it('without shuffling, cuts each batch as fit does (the training part of a validationSplit)', async () => {
    const { x, y } = randomData(14, [5], 6);
    const m = tinyDense();
    m.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.1) });
    const lens = instrument(m);
    const { seen, log } = recorder(lens);
    const idx: number[][] = [];
    lens.hooks.beforeBatch.tap('i', (c) => { idx.push(Array.from(c.indices)); });
    const h = await m.fit(x, y, { epochs: 1, batchSize: 4, shuffle: false, validationSplit: 0.3, verbose: 0, callbacks: [lens.callback(x, y)] });
    expect(idx).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8]]); // floor(14 · 0.7) = 9 training rows
    expect(seen.x[2]).toEqual(Array.from(tf.slice(x, 8, 1).dataSync()));
    expect(log.at(-1)).toBe('afterRun:completed:3');
    expect(h.history.val_loss).toHaveLength(1);
    tf.dispose([x, y]);
  });

  for (const backend of ['cpu', 'wasm']) it(`model.fit's batches come from one host read of x, not a gather per batch (${backend})`, async () => {
    await selectBackend(backend);
    const { x, y } = randomData(14, [5], 6);
    const b = tf.backend() as unknown as { readSync(id: unknown): unknown };
    const readSync = b.readSync;
    /** Reads of x's data during `run` (tfjs's own fit reads it on cpu, per batch). */
    const readsOfX = async (run: () => Promise<unknown>) => {
      let n = 0;
      b.readSync = function (this: unknown, id: unknown) { if (id === x.dataId) n++; return readSync.call(this, id); };
      try {
        await run();
      } finally {
        b.readSync = readSync;
      }
      return n;
    };
    const args = { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 };
    const plain = tinyDense();
    plain.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.1) });
    const byTfjs = await readsOfX(() => plain.fit(x, y, args));
    const m = tinyDense();
    m.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.1) });
    const lens = instrument(m);
    const { seen } = recorder(lens);
    const withLens = await readsOfX(() => m.fit(x, y, { ...args, callbacks: [lens.callback(x, y)] }));
    expect(seen.x).toHaveLength(8);
    expect(seen.x[3]).toEqual(Array.from(tf.slice(x, 12, 2).dataSync()));
    expect(withLens).toBe(byTfjs + 1);
    tf.dispose([x, y]);
    await selectBackend('cpu'); // the file's other tests run on cpu
  });

  it('with shuffling and a plugin that looks at rounds: the documented error, before any step or plugin runs', async () => {
    const { x, y } = randomData(12, [5], 6);
    const m = tinyDense();
    m.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.1) });
    const w0 = await weightsOf(m);
    const lens = instrument(m);
    const { log } = recorder(lens);
    const random = Math.random;
    await expect(m.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0, callbacks: [lens.callback(x, y)] }))
      .rejects.toThrow(/model\.fit shuffles the data .*, and t looks at every batch\. Pass shuffle: false to model\.fit, or train with taylorlens's fit\(model, x, y, args\)/);
    expect(same(await weightsOf(m), w0)).toBe(true);
    expect(log).toEqual([]);
    expect(Math.random).toBe(random); // the shuffle detector put it back
    // Nothing looks at rounds: shuffling is fine, rounds are counted.
    const counting = instrument(m);
    const ends: number[] = [];
    counting.hooks.afterEpoch.tap('t', (e) => { ends.push(Number(e.row.round)); });
    await m.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0, callbacks: [counting.callback(x, y)] });
    expect(ends).toEqual([3, 6]);
    tf.dispose([x, y]);
  });

  it('the drop-in fit takes model.fit\'s arguments, returns its History, and cuts the Trainer\'s batches for the same seed', async () => {
    const { x, y } = randomData(20, [5], 6);
    /** Notes each round's sample indices. */
    class Indices extends Plugin {
      readonly name = 'indices';
      readonly seen: number[][] = [];
      constructor() { super({ type: 'object' }, {}, 'indices'); }
      apply(t: Trainer) { t.hooks.beforeBatch.tap(this.name, (c) => { this.seen.push(Array.from(c.indices)); }); }
    }
    const compiled = () => { const m = tinyDense(); m.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.1) }); return m; };
    const a = compiled();
    const ia = new Indices();
    await new Trainer(a, { plugins: [ia] }).fit(x, y, { epochs: 3, batchSize: 6, seed: 11 });
    const b = compiled();
    const ib = new Indices();
    const calls: string[] = [];
    const history = await fit(b, x, y, {
      epochs: 3, batchSize: 6, seed: 11, verbose: 0, plugins: [ib],
      callbacks: [{ onEpochEnd: async (e: number) => { calls.push(`custom:${e}`); } }],
    });
    expect(ib.seen).toEqual(ia.seen);
    expect(ib.seen[0]).not.toEqual([0, 1, 2, 3, 4, 5]);
    expect(same(await weightsOf(b), await weightsOf(a))).toBe(true);
    expect(calls).toEqual(['custom:0', 'custom:1', 'custom:2']);
    expect(history.history.loss).toHaveLength(3);
    // validationSplit holds out the last rows, as fit does.
    const m = tinyDense();
    m.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.1) });
    const h2 = await fit(m, x, y, { epochs: 1, batchSize: 8, validationSplit: 0.25, verbose: 0 });
    expect(h2.history.val_loss).toHaveLength(1);
    await expect(fit(m, x, y, { stepsPerEpoch: 2 })).rejects.toThrow(/stepsPerEpoch is not supported/);
    tf.dispose([x, y]);
  });
});

describe('the Trainer on a stream', () => {
  it('fitDataset trains as fit does on the same batches, bit for bit, with one pass per epoch or batchesPerEpoch across them', async () => {
    const { x, y } = randomData(20, [5], 6);
    const run = async (how: 'fit' | 'pass' | 'batches') => {
      const m = tinyDense();
      m.compile({ loss: 'meanSquaredError', optimizer: tf.train.adam(0.01) });
      const t = new Trainer(m);
      t.require({ preActivations: true, preActivationGrads: true });
      const rows: unknown[] = [];
      t.events.on('epoch', (r) => rows.push(r));
      const stream = tensorBatches(x, y, { batchSize: 6, shuffle: true, seed: 4 });
      const s = how === 'fit'
        ? await t.fit(x, y, { epochs: 3, batchSize: 6, seed: 4, validationData: [x, y] })
        : how === 'pass'
          ? await t.fitDataset(stream, { epochs: 3, seed: 4, validationData: [x, y] })
          // One iterator across epochs: an endless stream of epochs, 4 batches each.
          : await t.fitDataset({ size: Infinity, iterator: async () => { let it = await stream.iterator(); return { next: async () => { let r = await it.next(); if (r.done) { it = await stream.iterator(); r = await it.next(); } return r; } }; } }, { epochs: 3, seed: 4, batchesPerEpoch: 4, validationData: [x, y] });
      return { s, rows, w: await weightsOf(m) };
    };
    const a = await run('fit');
    for (const how of ['pass', 'batches'] as const) {
      const b = await run(how);
      expect(same(b.w, a.w)).toBe(true);
      expect(b.rows).toEqual(a.rows);
      expect(b.s).toEqual(a.s);
    }
    const m = tinyDense();
    m.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.1) });
    await expect(new Trainer(m).fitDataset(tensorBatches(x, y, { batchSize: 8, shuffle: false, seed: 0 }), { epochs: 1, batchesPerEpoch: 5 }))
      .rejects.toThrow(/ended after 3 of the 5 batches/);
    tf.dispose([x, y]);
  });

  it('draws samples from passes of its own over the stream: count, then the rows asked for, in the order asked', async () => {
    const { x, y } = randomData(11, [5], 6);
    const src = streamSamples(tensorBatches(x, y, { batchSize: 4, shuffle: false, seed: 0 }));
    expect(await src.count()).toBe(11);
    const before = tf.memory().numTensors;
    const got = await src.gather([9, 2, 3, 10]);
    expect(Array.from(got.dataSync())).toEqual(Array.from(tf.gather(x, [9, 2, 3, 10]).dataSync()));
    got.dispose();
    expect(tf.memory().numTensors).toBe(before + 1); // the gather reference above
    await expect(src.gather([11])).rejects.toThrow(/outside the training stream/);
    await expect(streamSamples({ size: Infinity, iterator: async () => ({ next: async () => ({ done: true, value: undefined }) }) }).count()).rejects.toThrow(/endless/);
    tf.dispose([x, y]);
  });
});
