import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  OptionsError, Plugin, SeededRandom, StopTraining, Trainer, batchTaker, captureForward, observerCallback, selectBackend, takeBatch,
  type EpochObserver,
} from '@taylorlens/core';
import { maxAbsDiff, randomData, tinyConv, tinyDense, weightsOf } from './helpers/models.js';

beforeAll(async () => { await selectBackend('wasm'); });

describe('Trainer', () => {
  it('with plain SGD ends with the same weights as a hand-written tfjs loop over the same batches', async () => {
    const { x, y } = randomData(40, [5], 6);
    const a = tinyDense();
    const b = tinyDense();
    a.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.1) });
    const trainer = new Trainer(a);
    await trainer.fit(x, y, { epochs: 3, batchSize: 8, shuffle: true, seed: 42 });

    // Reference: the same permutation per epoch from the same generator, tfjs's own minimize.
    const opt = tf.train.sgd(0.1);
    const rng = new SeededRandom(42);
    for (let e = 0; e < 3; e++) {
      const order = rng.permutation(40);
      for (let s = 0; s < 40; s += 8) {
        const idx = tf.tensor1d(order.subarray(s, s + 8), 'int32');
        const xb = tf.gather(x, idx);
        const yb = tf.gather(y, idx);
        opt.minimize(() => tf.losses.meanSquaredError(yb, b.apply(xb) as tf.Tensor) as tf.Scalar);
        tf.dispose([idx, xb, yb]);
      }
    }
    const wa = await weightsOf(a);
    const wb = await weightsOf(b);
    wa.forEach((w, i) => expect(maxAbsDiff(w, wb[i])).toBeLessThan(1e-6));
  });

  it('validates without reading the whole data tensor out of wasm memory per batch, to the same loss as a slice', async () => {
    const { x, y } = randomData(50, [5], 6);
    const model = tinyDense();
    model.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.1) });
    const trainer = new Trainer(model);
    const reads: unknown[] = [];
    const backend = tf.backend() as unknown as { readSync(id: unknown): unknown };
    const readSync = backend.readSync;
    backend.readSync = function (this: unknown, id: unknown) { reads.push(id); return readSync.call(this, id); };
    let loss: number;
    try {
      loss = await trainer.evaluate(x, y, 16);
    } finally {
      backend.readSync = readSync;
    }
    // tf.slice on wasm copies all of x out before cutting (what made MNIST's validation 21 s).
    expect(reads).not.toContain(x.dataId);
    expect(reads).not.toContain(y.dataId);
    let expected = 0;
    for (let s = 0; s < 50; s += 16) {
      const n = Math.min(16, 50 - s);
      const l = tf.tidy(() => tf.losses.meanSquaredError(tf.slice(y, s, n), model.predict(tf.slice(x, s, n)) as tf.Tensor));
      expected += (await l.data())[0] * n;
      l.dispose();
    }
    expect(loss).toBe(expected / 50);
    tf.dispose([x, y]);
  });

  it('takes batches on the host (wasm, cpu) with the values of a gather, without reading the data more than once', async () => {
    for (const backend of ['cpu', 'wasm']) {
      await selectBackend(backend);
      const x = tf.randomNormal([37, 3, 2], 0, 1, 'float32', 3);
      const labels = tf.tensor1d(Array.from({ length: 37 }, (_, i) => (i * 7) % 5), 'int32');
      const reads: unknown[] = [];
      let counting = false;
      const b = tf.backend() as unknown as { readSync(id: unknown): unknown };
      const readSync = b.readSync;
      b.readSync = function (this: unknown, id: unknown) { if (counting) reads.push(id); return readSync.call(this, id); };
      try {
        for (const y of [labels, x]) {
          const take = batchTaker(x, y);
          for (const [indices, shuffled] of [[Int32Array.from([5, 0, 36, 5, 12]), true], [Int32Array.from([30, 31, 32, 33, 34, 35, 36]), false]] as const) {
            counting = true;
            const [xb, yb] = take(indices, shuffled);
            counting = false;
            const [xg, yg] = takeBatch(x, y, indices, shuffled);
            expect(xb.shape).toEqual(xg.shape);
            expect(yb.dtype).toBe(y.dtype);
            expect(Array.from(xb.dataSync())).toEqual(Array.from(xg.dataSync()));
            expect(Array.from(yb.dataSync())).toEqual(Array.from(yg.dataSync()));
            tf.dispose([xb, yb, xg, yg]);
          }
        }
      } finally {
        b.readSync = readSync;
      }
      // One read of each data tensor per taker (two takers: y = labels, then y = x).
      expect(reads.filter((id) => id === x.dataId)).toHaveLength(2);
      expect(reads.filter((id) => id === labels.dataId)).toHaveLength(1);
      tf.dispose([x, labels]);
    }
    await selectBackend('wasm');
  });

  it('is deterministic: same seed, same backend, same weights bit for bit', async () => {
    const { x, y } = randomData(30, [5], 6);
    const run = async () => {
      const m = tinyDense();
      m.compile({ loss: 'meanSquaredError', optimizer: tf.train.adam(0.01) });
      await new Trainer(m).fit(x, y, { epochs: 2, batchSize: 7, seed: 3 });
      return weightsOf(m);
    };
    const [w1, w2] = [await run(), await run()];
    w1.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from(w2[i].buffer))).toBe(true));
  });

  it('runs hooks in order and hands each what its doc says', async () => {
    const { x, y } = randomData(8, [5], 6);
    const m = tinyDense();
    m.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.05) });
    const t = new Trainer(m);
    t.require({ inputs: true, preActivations: true, activations: true, preActivationGrads: true });
    const log: string[] = [];
    const seen: Record<string, unknown> = {};
    const h = t.hooks;
    h.beforeRun.tap('t', (r) => { log.push('beforeRun'); seen.batches = r.batchesPerEpoch; });
    h.beforeEpoch.tap('t', () => { log.push('beforeEpoch'); });
    h.beforeBatch.tap('t', (c) => { log.push(`beforeBatch:${c.round}`); });
    h.afterForward.tap('t', (c) => {
      log.push('afterForward');
      const cap = c.capture;
      seen.shapes = cap.layers.map((l) => [l.input!.shape, l.preActivation!.shape, l.activation!.shape]);
      // The kept activation equals relu of the kept pre-activation, from the same pass.
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(tf.relu(cap.layers[0].preActivation!), cap.layers[0].activation!))).dataSync()[0]);
      seen.reluDiff = diff;
      seen.outputShape = cap.output.shape;
    });
    h.afterBackward.tap('t', (c) => {
      log.push('afterBackward');
      seen.loss = c.loss;
      seen.gradNames = Object.keys(c.capture.grads).length;
      // ∂ℓ/∂W of the first dense layer = x̃ᵀ (∂ℓ/∂a_1): checks the pre-activation gradient.
      const cap = c.capture;
      const k = t.anatomy.layers[0].kernel.name;
      seen.gradCheck = tf.tidy(() => tf.max(tf.abs(tf.sub(tf.matMul(cap.layers[0].input!, cap.layers[0].preActivationGrad!, true, false), cap.grads[k]))).dataSync()[0]);
    });
    h.transformGradients.tap('t', (g) => { log.push('transformGradients'); return g; });
    h.beforeStep.tap('t', () => { log.push('beforeStep'); });
    h.afterStep.tap('t', (o) => { log.push('afterStep'); seen.weights = o.weights.length; });
    h.afterBatch.tap('t', (c) => { log.push('afterBatch'); c.row.extra = 1; });
    h.afterEpoch.tap('t', () => { log.push('afterEpoch'); });
    h.afterRun.tap('t', (_r, s) => { log.push(`afterRun:${s.status}`); });
    const rows: unknown[] = [];
    t.events.on('round', (r) => rows.push(r));
    await t.fit(x, y, { epochs: 1, batchSize: 8, seed: 1 });
    expect(log).toEqual(['beforeRun', 'beforeEpoch', 'beforeBatch:1', 'afterForward', 'afterBackward',
      'transformGradients', 'beforeStep', 'afterStep', 'afterBatch', 'afterEpoch', 'afterRun:completed']);
    expect(seen.shapes).toEqual([[[8, 5], [8, 4], [8, 4]], [[8, 4], [8, 3], [8, 3]], [[8, 3], [8, 6], [8, 6]]]);
    expect(seen.reluDiff).toBe(0);
    expect(seen.outputShape).toEqual([8, 6]);
    expect(seen.gradNames).toBe(6);
    expect(seen.gradCheck as number).toBeLessThan(1e-6);
    expect(Number.isFinite(seen.loss)).toBe(true);
    expect(seen.weights).toBe(6);
    expect(rows).toEqual([{ round: 1, epoch: 1, loss: seen.loss, extra: 1 }]);
  });

  it('lets a plugin transform the gradients and provide the step', async () => {
    const { x, y } = randomData(8, [5], 6);
    const m = tinyDense();
    m.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.05) });
    const before = await weightsOf(m);
    const t = new Trainer(m);
    t.hooks.transformGradients.tap('zero', (g) => Object.fromEntries(Object.entries(g).map(([k, v]) => [k, tf.zerosLike(v)])));
    let stepped = 0;
    t.hooks.step.tap('mine', ({ grads, variables }) => {
      stepped += 1;
      expect(Object.keys(grads)).toHaveLength(variables.length);
      for (const v of variables) v.assign(tf.add(v, grads[v.name]));
      return { learningRate: 0 };
    });
    await t.fit(x, y, { epochs: 2, batchSize: 4 });
    expect(stepped).toBe(4);
    const after = await weightsOf(m);
    after.forEach((w, i) => expect(maxAbsDiff(w, before[i])).toBe(0));
  });

  it('stops cleanly when a plugin throws StopTraining', async () => {
    const { x, y } = randomData(16, [5], 6);
    const m = tinyDense();
    m.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.05) });
    const t = new Trainer(m);
    const events: string[] = [];
    t.hooks.afterBatch.tap('stopper', (c) => { if (c.round === 3) throw new StopTraining('enough'); });
    t.hooks.afterCancel.tap('t', (i) => { events.push(`cancel:${i.reason}:${i.round}`); });
    t.hooks.afterRun.tap('t', (_r, s) => { events.push(`run:${s.status}`); });
    const before = tf.memory().numTensors;
    const s = await t.fit(x, y, { epochs: 5, batchSize: 4 });
    expect(s.status).toBe('stopped');
    expect(s.rounds).toBe(2);
    expect(events).toEqual(['cancel:enough:2', 'run:stopped']);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('ends a run whose loss becomes NaN as diverged, keeping the rounds before it', async () => {
    const { x, y } = randomData(16, [5], 6);
    const m = tinyDense();
    m.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(1e6) });
    const t = new Trainer(m);
    const losses: number[] = [];
    t.events.on('round', (r) => losses.push(r.loss as number));
    const s = await t.fit(x, y, { epochs: 50, batchSize: 4, seed: 1 });
    expect(s.status).toBe('diverged');
    expect(losses.length).toBe(s.rounds);
    expect(losses.every(Number.isFinite)).toBe(true);
  });

  it('keeps tf.memory().numTensors flat over 500 rounds with a plugin tapping every hook', async () => {
    const { x, y } = randomData(64, [8, 8, 2], 4, 3, true);
    const m = tinyConv();
    m.compile({ loss: 'categoricalCrossentropy', optimizer: tf.train.adam(0.001) });
    const t = new Trainer(m, { loss: 'softmaxCrossEntropy' }); // tinyConv's output is the logits (no softmax layer)
    t.require({ inputs: true, preActivations: true, activations: true, preActivationGrads: true });
    for (const [name, hook] of Object.entries(t.hooks)) {
      if (name === 'step' || name === 'saveState' || name === 'loadState') continue;
      if (name === 'transformGradients') { t.hooks.transformGradients.tap('all', (g) => g); continue; }
      (hook as { tap(n: string, f: () => void): void }).tap('all', () => undefined);
    }
    // Touch the lazily derived tensors so they are created (and must be disposed) each round.
    t.hooks.afterBackward.tap('derive', (c) => { c.capture.derivative(0); c.capture.poolMask(0, 0); });
    await t.fit(x, y, { epochs: 2, batchSize: 8, seed: 1 }); // warm up optimizer slots
    const before = tf.memory().numTensors;
    const s = await t.fit(x, y, { epochs: 62, batchSize: 8, seed: 1 });
    expect(s.rounds).toBe(496);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('Plugin API', () => {
  const schema = {
    type: 'object',
    properties: { every: { type: 'integer', minimum: 1, default: 1 }, layers: { type: 'array', items: { type: 'string' } } },
    additionalProperties: false,
  };
  class Counter extends Plugin<{ every: number; layers?: string[] }> {
    readonly name = 'counter';
    count = 0;
    constructor(options: unknown = {}) { super(schema, options, 'counter'); }
    apply(t: Trainer): void { t.hooks.afterBatch.tap(this.name, (c) => { if (c.round % this.options.every === 0) this.count++; }); }
  }

  it('fills defaults and validates options, naming the path and what was expected', () => {
    expect(new Counter().options.every).toBe(1);
    expect(() => new Counter({ every: 0 })).toThrow(/\/every must be >= 1 \(got 0\)/);
    expect(() => new Counter({ layers: ['a', 3] })).toThrow(/\/layers\/1 must be string/);
    expect(() => new Counter({ evry: 2 })).toThrow(/\/evry is not a known option/);
    try { new Counter({ every: 'x' }); } catch (e) {
      expect(e).toBeInstanceOf(OptionsError);
      expect((e as OptionsError).problems[0].path).toBe('/every');
    }
  });

  it('is applied through the trainer', async () => {
    const { x, y } = randomData(16, [5], 6);
    const m = tinyDense();
    m.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.05) });
    const c = new Counter({ every: 2 });
    const t = new Trainer(m, { plugins: [c] });
    await t.fit(x, y, { epochs: 1, batchSize: 2 });
    expect(c.count).toBe(4);
    expect(t.describeTaps()).toContain('afterBatch: counter');
  });
});

describe('observers in plain model.fit', () => {
  it('an epoch observer works as a tf callback passed to model.fit', async () => {
    const { x, y } = randomData(32, [5], 6);
    const m = tinyDense();
    m.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.05) });
    const probe = tf.randomNormal([10, 5], 0, 1, 'float32', 9);
    const seen: number[][] = [];
    const observer: EpochObserver = {
      name: 'active-count',
      onEpochEnd(_model, anatomy, epoch, row) {
        const cap = captureForward(anatomy, probe);
        const active = tf.tidy(() => tf.sum(tf.cast(tf.greater(cap.preActivation(0), 0), 'float32')).dataSync()[0]);
        cap.dispose();
        seen.push([epoch, active]);
        row.active = active;
      },
    };
    const cb = observerCallback(observer);
    const before = tf.memory().numTensors;
    await m.fit(x, y, { epochs: 3, batchSize: 8, callbacks: [cb], verbose: 0 });
    expect(seen.map((s) => s[0])).toEqual([0, 1, 2]);
    expect(cb.rows.map((r) => typeof r.active)).toEqual(['number', 'number', 'number']);
    expect(cb.rows[0].loss).toBeTypeOf('number');
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 2); // tfjs keeps its own epoch logs
    probe.dispose();
  });
});

void tfl;
