// Models beyond ReLU through the plugin: smooth activations only (nothing recorded, nothing fails,
// the files and the report say why), named smooth layers, the default choice on a residual DAG,
// and checkpoints of a run whose max-pool windows go to the pieces file.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Trainer, modelAnatomy, selectBackend, type MetricsRow, type TrainerState } from '@taylorlens/core';
import {
  ActivationPlugin, CONFIGURATIONS_NPY, PIECES_NPY, readActivationJson, reportSections, selectUnits, type SnapshotEvent,
} from '../src/index.js';
import { randomData, tinyConv, tinyDense } from '../../core/test/helpers/models.js';
import { preflightActivation } from '../src/preflight.js';
import { tempStore } from './helpers/store.js';

const stores: ReturnType<typeof tempStore>[] = [];
beforeAll(async () => { await selectBackend('wasm'); });
afterAll(() => { for (const s of stores) s.remove(); });

const SMOOTH = 'no piecewise-linear unit: configurations are not defined for smooth activations (tanh)';

describe('smooth activations only', () => {
  it('in the Trainer: no failure, no snapshot, activation.json and the report say why, measures absent', async () => {
    const store = tempStore();
    stores.push(store);
    const { x, y } = randomData(20, [5], 6, 41);
    const model = tinyDense([5, 9, 4, 6], 41, 'tanh');
    model.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.1) });
    const plugin = new ActivationPlugin({ probeSize: 10 });
    const trainer = new Trainer(model, { plugins: [plugin], store });
    const warnings: string[] = [];
    const events: SnapshotEvent[] = [];
    const rows: MetricsRow[] = [];
    trainer.events.on('warning', (w) => warnings.push((w as { message: string }).message));
    trainer.events.on('activation:snapshot', (e) => events.push(e as SnapshotEvent));
    trainer.events.on('epoch', (r) => rows.push({ ...r }));
    await trainer.fit(x, y, { epochs: 2, batchSize: 5 });
    expect(plugin.none).toBe(SMOOTH);
    expect(warnings).toContain(`activation: ${SMOOTH}`);
    expect([plugin.tensor, plugin.configurations, plugin.final, events.length]).toEqual([null, null, null, 0]);
    expect(rows.every((r) => !('activation.novelty' in r))).toBe(true);
    const json = readActivationJson(store.dir)!;
    expect(json).toMatchObject({
      status: 'completed', units: 0, snapshots: 0, none: SMOOTH, bits: null, pieces: null, layers: [], switches: null, singularValues: null,
      novelty: { raw: [], normalized: [], nearest: [] },
    });
    expect(json.skipped!.map((s) => [s.activation, s.smooth])).toEqual([['tanh', true], ['tanh', true]]);
    expect(fs.existsSync(path.join(store.dir, 'activation', CONFIGURATIONS_NPY))).toBe(false);
    expect(fs.existsSync(path.join(store.dir, 'activation', PIECES_NPY))).toBe(false);
    const [section] = await reportSections(store.dir);
    expect(section.figures).toEqual([]);
    expect(section.intro).toBe(SMOOTH);
    expect(plugin.preflight(modelAnatomy(model), { samples: 20, runFolder: null } as never)).toEqual([]);
    tf.dispose([x, y]);
  });

  it('in model.fit on a functional model with ELU, sigmoid and softmax layers, even without a probe set', async () => {
    const input = tfl.input({ shape: [4] });
    const h = tfl.layers.elu().apply(tfl.layers.dense({ units: 6 }).apply(input)) as tfl.SymbolicTensor;
    const s = tfl.layers.dense({ units: 5, activation: 'sigmoid' }).apply(h) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 3, activation: 'softmax' }).apply(s) as tfl.SymbolicTensor });
    model.compile({ loss: 'categoricalCrossentropy', optimizer: tf.train.sgd(0.1) });
    const plugin = new ActivationPlugin();
    const x = tf.randomNormal([12, 4], 0, 1, 'float32', 1);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], 'int32'), 3);
    await model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0, callbacks: [plugin.asCallback()] });
    expect(plugin.none).toBe('no piecewise-linear unit: configurations are not defined for smooth activations (elu, sigmoid)');
    expect(plugin.final).toBeNull();
    tf.dispose([x, y]);
  });
});

describe('layer choice', () => {
  it('names smooth or linear layers without failing (skipped, with why), and still refuses names the model lacks', () => {
    const input = tfl.input({ shape: [4] });
    const d0 = tfl.layers.dense({ units: 6, activation: 'relu6', name: 'r6' }).apply(input) as tfl.SymbolicTensor;
    const d1 = tfl.layers.dense({ units: 5, activation: 'tanh', name: 'th' }).apply(d0) as tfl.SymbolicTensor;
    const d2 = tfl.layers.dense({ units: 5, name: 'lin' }).apply(d1) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 2, name: 'out' }).apply(tfl.layers.dropout({ rate: 0.1, name: 'fl' }).apply(d2) as tfl.SymbolicTensor) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    const sel = selectUnits(model, { layers: ['r6', 'th', 'lin', 'fl'], maxUnitsPerLayer: {}, seed: 1 });
    expect(sel.layers.map((l) => [l.name, l.pieces, l.file])).toEqual([['r6', 3, 'pieces']]);
    expect(sel.skipped.map((s) => [s.name, s.reason])).toEqual([
      ['th', 'tanh is smooth: it has no linear pieces'], ['lin', 'linear: one piece, no configuration'],
      ['fl', 'Dropout is not a piecewise-linear activation, max-pooling or Maximum/Minimum layer'],
    ]);
    const none = selectUnits(model, { layers: ['th', 1], maxUnitsPerLayer: {}, seed: 1 });
    expect([none.units, none.none]).toEqual([0, 'no piecewise-linear unit: configurations are not defined for smooth activations (tanh)']);
    expect(() => selectUnits(model, { layers: ['nope'], maxUnitsPerLayer: {}, seed: 1 })).toThrow(/no layer "nope"/);
    expect(() => selectUnits(model, { layers: [7], maxUnitsPerLayer: {}, seed: 1 })).toThrow(/no Dense\/Conv2D layer 7/);
    const problems = preflightActivation(new ActivationPlugin({ layers: ['nope'] }).options, { model } as never, { samples: 10, runFolder: null } as never);
    expect(problems.map((p) => p.option)).toEqual(['/layers']);
  });

  it('on a residual DAG: every piecewise-linear hidden unit by default, the output layer\'s excluded', () => {
    const input = tfl.input({ shape: [6] });
    const a = tfl.layers.dense({ units: 6, activation: 'relu', name: 'a' }).apply(input) as tfl.SymbolicTensor;
    const b = tfl.layers.dense({ units: 6, name: 'b' }).apply(a) as tfl.SymbolicTensor;
    const sum = tfl.layers.add({ name: 'sum' }).apply([b, input]) as tfl.SymbolicTensor;
    const r = tfl.layers.reLU({ name: 'r' }).apply(sum) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 3, activation: 'relu', name: 'out' }).apply(r) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    const sel = selectUnits(model, { maxUnitsPerLayer: {}, seed: 1 });
    expect(sel.layers.map((l) => [l.name, l.kind, l.layer, l.offset, l.total])).toEqual([['a', 'dense', 0, 0, 6], ['r', 'activation', null, 6, 6]]);
    expect(selectUnits(model, { layers: [2], maxUnitsPerLayer: {}, seed: 1 }).layers.map((l) => l.name)).toEqual(['out']);
  });
});

describe('checkpoints with max-pool windows in the pieces file', () => {
  async function train(epochs: number, withStore: boolean, resume?: { state: TrainerState; weights: tf.Tensor[] }) {
    const { x, y } = randomData(24, [8, 8, 2], 4, 51);
    const model = tinyConv(51);
    if (resume) model.setWeights(resume.weights);
    model.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.1) });
    const store = withStore ? tempStore() : undefined;
    if (store) stores.push(store);
    const plugin = new ActivationPlugin({ probeSize: 9, choices: true, maxUnitsPerLayer: { conv2d: 30, pool: 20 } }).setTrainingData(x);
    const trainer = new Trainer(model, { plugins: [plugin], store });
    await trainer.fit(x, y, { epochs, batchSize: 8, seed: 3, resume: resume?.state });
    const state = trainer.state();
    const weights = model.getWeights().map((w) => w.clone());
    tf.dispose([x, y]);
    return { plugin, state: JSON.parse(JSON.stringify(state)) as TrainerState, weights, store };
  }

  it.each([['inline', false], ['in the run folder', true]])('a resumed run continues both files (%s)', async (_name, withStore) => {
    const full = await train(4, false);
    const first = await train(2, withStore as boolean);
    const saved = first.state.plugins.activation as { version: number; pieceRowBits: number; piecesPacked: string | null; piecesFile: string | null };
    expect(saved.version).toBe(2);
    expect(saved.pieceRowBits).toBeGreaterThan(0);
    expect(saved.piecesPacked === null).toBe(withStore);
    if (withStore) expect(fs.existsSync(saved.piecesFile!)).toBe(true);
    const second = await train(4, withStore as boolean, { state: first.state, weights: first.weights });
    const [a, b] = [full.plugin.configurations!, second.plugin.configurations!];
    expect([b.snapshots, b.bitUnits, b.pieceUnits]).toEqual([5, 60, 32]);
    expect(Array.from(b.unpack())).toEqual(Array.from(a.unpack()));
    expect(second.plugin.novelty).toEqual(full.plugin.novelty);
    expect(Array.from(second.plugin.final!.singularValues.perUnit)).toEqual(Array.from(full.plugin.final!.singularValues.perUnit));
    tf.dispose([...first.weights, ...second.weights, ...full.weights]);
  });
});
