// The integrations of issue 14 as runs over one model and data: the Trainer, Trainer.fitDataset,
// a hand-written loop (instrument), model.fitDataset (lens.wrap + lens.callback), model.fit
// (lens.callback(x, y)) and the drop-in fit, and what must agree between them (every scope kind: the
// network scope stores one round in three).
import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { fit, instrument, tensorBatches, Trainer, type Plugin } from '@taylorlens/core';
import { ActivationPlugin } from '@taylorlens/plugin-activation';
import { RegretPlugin } from '@taylorlens/plugin-regret';
import { dataFor, type NetCase } from './nets.js';

export const REGRET = { network: { every: 3 }, layers: { every: 1 }, neurons: { perLayer: 2, every: 1, subBatch: null }, budget: { maxOverhead: 1e6 }, trace: false };
export const EPOCHS = 2;
export const BATCH = 4;

export interface Outcome { regret: string; losses: string; activation: string; weights: Float32Array[] }

/** What must agree: regret (scopes in order, layer names and wall times left out), ℓ_n, the activation bits and measures, the weights. */
export async function outcome(model: tfl.LayersModel, regret: RegretPlugin, activation: ActivationPlugin): Promise<Outcome> {
  const json = (v: unknown) => JSON.stringify(v, (k, x) => (/Ms$|^key$|^layer$/.test(k) ? undefined : x));
  return {
    regret: json(Object.values(regret.results.scopes)),
    losses: json(regret.losses),
    activation: json({ ...activation.final, positions: activation.recorder.positions, bits: Array.from({ length: activation.tensor!.snapshots }, (_, n) => Buffer.from(activation.tensor!.snapshot(n)).toString('hex')) }),
    weights: await Promise.all(model.getWeights().map(async (w) => (await w.data()) as Float32Array)),
  };
}

export type Run = (model: tfl.LayersModel, plugins: Plugin[], x: tf.Tensor, y: tf.Tensor) => Promise<unknown>;

/** The user's step, as they would write it: tfjs's own loss and minimize. */
const minimizeStep = (model: tfl.LayersModel, xb: tf.Tensor, yb: tf.Tensor) =>
  () => model.optimizer.minimize(() => tf.losses.meanSquaredError(yb, model.apply(xb, { training: true }) as tf.Tensor) as tf.Scalar);

/** A hand-written loop over the batches the Trainer would cut (tensorBatches, same seed); epochs end with epochEnd(). */
export async function handWritten(model: tfl.LayersModel, plugins: Plugin[], x: tf.Tensor, y: tf.Tensor, shuffle: boolean, seed = 0) {
  const lens = instrument(model, { plugins, inputs: x, epochs: EPOCHS, seed });
  const stream = tensorBatches(x, y, { batchSize: BATCH, shuffle, seed });
  for (let e = 0; e < EPOCHS; e++) {
    const it = await stream.iterator();
    for (let r = await it.next(); !r.done; r = await it.next()) {
      const { xs, ys } = r.value;
      await lens.round(xs as tf.Tensor, ys as tf.Tensor, minimizeStep(model, xs as tf.Tensor, ys as tf.Tensor));
      tf.dispose([xs as tf.Tensor, ys as tf.Tensor]);
    }
    await lens.epochEnd();
  }
  await lens.end();
}

export const IN_ORDER: Record<string, Run> = {
  'the Trainer': (m, plugins, x, y) => new Trainer(m, { plugins }).fit(x, y, { epochs: EPOCHS, batchSize: BATCH, shuffle: false }),
  'Trainer.fitDataset': (m, plugins, x, y) => new Trainer(m, { plugins }).fitDataset(tensorBatches(x, y, { batchSize: BATCH, shuffle: false, seed: 0 }), { epochs: EPOCHS }),
  'a hand-written loop': (m, plugins, x, y) => handWritten(m, plugins, x, y, false),
  // The probe set is drawn from passes of the lens's own over the stream.
  'model.fitDataset': (m, plugins, x, y) => {
    const lens = instrument(m, { plugins });
    return m.fitDataset(lens.wrap(tensorBatches(x, y, { batchSize: BATCH, shuffle: false, seed: 0 })), { epochs: EPOCHS, verbose: 0, callbacks: [lens.callback()] });
  },
  'model.fit, shuffle false': (m, plugins, x, y) => {
    const lens = instrument(m, { plugins });
    return m.fit(x, y, { epochs: EPOCHS, batchSize: BATCH, shuffle: false, verbose: 0, callbacks: [lens.callback(x, y)] });
  },
  'the drop-in fit, shuffle false': (m, plugins, x, y) => fit(m, x, y, { epochs: EPOCHS, batchSize: BATCH, shuffle: false, verbose: 0, plugins }),
};

export const SHUFFLED: Record<string, Run> = {
  'the Trainer': (m, plugins, x, y) => new Trainer(m, { plugins }).fit(x, y, { epochs: EPOCHS, batchSize: BATCH, seed: 7 }),
  'a hand-written loop': (m, plugins, x, y) => handWritten(m, plugins, x, y, true, 7),
  'the drop-in fit': (m, plugins, x, y) => fit(m, x, y, { epochs: EPOCHS, batchSize: BATCH, seed: 7, verbose: 0, plugins }),
};

export async function train(net: NetCase, run: Run, x: tf.Tensor, y: tf.Tensor, optimizer: () => tf.Optimizer): Promise<Outcome> {
  const model = net.make();
  model.compile({ loss: 'meanSquaredError', optimizer: optimizer() });
  const regret = new RegretPlugin(REGRET);
  const activation = new ActivationPlugin({ probeSize: 10, every: { epochs: 1 } });
  await run(model, [regret, activation], x, y);
  const out = await outcome(model, regret, activation);
  model.dispose();
  return out;
}

export function expectSame(a: Outcome, b: Outcome): void {
  expect(a.regret).toBe(b.regret);
  expect(a.losses).toBe(b.losses);
  expect(a.activation).toBe(b.activation);
  a.weights.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from(b.weights[i].buffer))).toBe(true));
}


/** Every integration, in order (SGD) and shuffled with seed 7 (Adam): each agrees with the Trainer bit for bit. */
export async function checkSameNumbers(net: NetCase): Promise<void> {
  const { x, y } = dataFor(net, 6 * BATCH, 3);
  const cases = [['in order, SGD', IN_ORDER, () => tf.train.sgd(0.1)], ['shuffled (seed 7), Adam', SHUFFLED, () => tf.train.adam(0.01)]] as const;
  for (const [order, runs, optimizer] of cases) {
    const results = new Map<string, Outcome>();
    for (const [name, run] of Object.entries(runs)) results.set(name, await train(net, run, x, y, optimizer));
    const reference = results.get('the Trainer')!;
    const scopes = JSON.parse(reference.regret) as { kind: string; checkpoints: unknown[] }[];
    expect(new Set(scopes.map((s) => s.kind))).toEqual(new Set(['layer', 'neurons', 'network']));
    for (const s of scopes) expect(s.checkpoints).toHaveLength(EPOCHS);
    for (const [name, r] of results) {
      try {
        expectSame(r, reference);
      } catch (e) {
        throw new Error(`${order}: ${name} differs from the Trainer: ${(e as Error).message.slice(0, 300)}`);
      }
    }
  }
  tf.dispose([x, y]);
}
