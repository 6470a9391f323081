// The weights a run writes (trace rounds and the final weights/): every weight of the model, not
// only the scoped layers' kernels and biases — a SeparableConv2D's three, a frozen layer's, and
// BatchNormalization's moving statistics (not trained, but what inference mode reads). The old
// entries keep their place and names; grouped by layer the entries are in each layer's own order,
// so `setWeights` rebuilds the model: a fresh copy given the files predicts bit for bit the same
// in inference mode (which reads the moving statistics).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend, Trainer } from '../src/index.js';
import { RunDir } from '../src/store/run-dir.js';
import { RunStore } from '../src/run/store.js';
import { TraceRecorder, type TraceIndex } from '../src/run/trace.js';
import { writeFinalWeights } from '../src/run/final-weights.js';
import { decodeNpy } from '../src/store/npy.js';

function model(seed: number): tfl.LayersModel {
  const g = (s: number) => tfl.initializers.glorotUniform({ seed: seed + s });
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: g(0), name: 'conv' }));
  m.add(tfl.layers.batchNormalization({ name: 'bn' }));
  m.add(tfl.layers.separableConv2d({ filters: 2, kernelSize: 2, depthMultiplier: 2, activation: 'relu', depthwiseInitializer: g(1), pointwiseInitializer: g(2), name: 'sep' }));
  m.add(tfl.layers.flatten({ name: 'flat' }));
  m.add(tfl.layers.dense({ units: 4, activation: 'tanh', trainable: false, kernelInitializer: g(3), name: 'frozen' }));
  m.add(tfl.layers.dense({ units: 3, kernelInitializer: g(4), name: 'out' }));
  return m;
}

const npy = (file: string) => decodeNpy(fs.readFileSync(file));

describe('the weights a run writes: every weight of the model', () => {
  let root: string;
  beforeAll(async () => {
    await selectBackend('cpu');
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-weights-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('trace and weights/ list the old entries first, then the separable kernels, the frozen layer and the moving statistics; a fresh model given them predicts the same', async () => {
    const m = model(1);
    const runDir = RunDir.create(root, 'weights');
    const store = new RunStore(runDir, { every: 1 });
    const optimizer = tf.train.sgd(0.1);
    const trainer = new Trainer(m, { loss: 'meanSquaredError', optimizer });
    const recorder = new TraceRecorder(store, { loss: 'mse', keras: { class_name: 'Sequential', input_shape: [5, 5, 2], data_format: 'channels_last', layers: [] } }, 'labels', trainer.anatomy);
    recorder.attach(trainer);
    const initial = new Map(m.weights.map((w) => [`${w.originalName}`, (w.read() as tf.Tensor).dataSync().slice()]));
    const x = tf.randomNormal([6, 5, 5, 2], 0, 1, 'float32', 3);
    const y = tf.randomNormal([6, 3], 0, 1, 'float32', 4);
    await trainer.fit(x, y, { epochs: 1, batchSize: 3, shuffle: false });
    await writeFinalWeights(runDir, trainer);

    const index = JSON.parse(fs.readFileSync(path.join(store.traceDir!, 'index.json'), 'utf8')) as TraceIndex;
    // The scoped layers' kernel and bias first (as before; SeparableConv2D, now scoped, as its layer holds them), then the additions.
    expect(index.weights.map((w) => [w.layer, w.name, w.trainable ?? true])).toEqual([
      ['conv', 'kernel', true], ['conv', 'bias', true], ['bn', 'gamma', true], ['bn', 'beta', true],
      ['sep', 'depthwise_kernel', true], ['sep', 'pointwise_kernel', true], ['sep', 'bias', true], ['out', 'kernel', true], ['out', 'bias', true],
      ['bn', 'moving_mean', false], ['bn', 'moving_variance', false], ['frozen', 'kernel', false], ['frozen', 'bias', false],
    ]);
    expect(index.weights.length).toBe(m.weights.length);
    expect(index.weights.find((w) => w.name === 'moving_mean')!.layout).toMatch(/not trained/);
    // Round 1's files are the weights before its update, one per entry.
    const r1 = index.rounds['1'];
    expect(r1.weights).toHaveLength(index.weights.length);
    index.weights.forEach((w, i) => {
      const a = npy(path.join(store.traceDir!, r1.weights[i]));
      expect(a.shape).toEqual(w.shape);
      expect(Array.from(a.data as Float32Array)).toEqual(Array.from(initial.get(`${w.layer}/${w.name}`)!));
    });
    // The moving statistics did move (or the check below would not need them).
    const round2 = npy(path.join(store.traceDir!, index.rounds['2'].weights[9]));
    expect(Array.from(round2.data as Float32Array)).not.toEqual(Array.from(initial.get('bn/moving_mean')!));

    // weights/: the same entries; grouped by layer they rebuild the trained model.
    const final = JSON.parse(fs.readFileSync(runDir.path('weights', 'index.json'), 'utf8')) as { weights: { file: string; layer: string; name: string; shape: number[]; trainable?: false }[] };
    expect(final.weights.map((w) => [w.layer, w.name, w.trainable ?? true])).toEqual(index.weights.map((w) => [w.layer, w.name, w.trainable ?? true]));
    const fresh = model(50);
    const byLayer = new Map<string, tf.Tensor[]>();
    for (const w of final.weights) {
      const a = npy(runDir.path('weights', w.file));
      byLayer.set(w.layer, [...(byLayer.get(w.layer) ?? []), tf.tensor(a.data as Float32Array, a.shape)]);
    }
    for (const [name, ws] of byLayer) fresh.getLayer(name).setWeights(ws);
    const ours = fresh.predict(x) as tf.Tensor;
    const theirs = m.predict(x) as tf.Tensor;
    expect(Array.from(ours.dataSync())).toEqual(Array.from(theirs.dataSync()));
    tf.dispose([ours, theirs, x, y, ...[...byLayer.values()].flat()]);
    fresh.dispose();
    m.dispose();
    optimizer.dispose();
  });
});
