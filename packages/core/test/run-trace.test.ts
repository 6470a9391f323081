// Trace round trip: a fresh model built with plain tfjs from trace/index.json alone, given the
// traced weights and batch, recomputes every recorded round's loss (≤ 1e-6 relative).
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, memoryIo } from '@taylorlens/cli';
import { buildModel } from '../src/run/model.js';
import type { TraceIndex } from '../src/run/trace.js';
import { onlyRun, readJson, readNpy, tempProject, tinyConfig, writeConfig, type Project } from './fixtures/project.js';

let project: Project;
beforeAll(() => { project = tempProject('taylorlens-trace-'); });
afterAll(() => project.cleanup());

const tensorOf = (file: string) => {
  const a = readNpy(file);
  expect(a.dtype).toBe('float32');
  return tf.tensor(a.data as Float32Array, a.shape, 'float32');
};

/** Keras-described layers → tfjs-layers, using nothing but index.json. Logits when the loss wants them. */
function modelFromIndex(index: TraceIndex): tfl.Sequential {
  const m = tfl.sequential();
  const last = index.model.layers.length - 1;
  index.model.layers.forEach((l, i) => {
    const c = l.config as Record<string, any>;
    const first = i === 0 ? { inputShape: index.model.input_shape } : {};
    const activation = index.loss.on === 'logits' && i === last ? 'linear' : c.activation;
    switch (l.class_name) {
      case 'Dense': m.add(tfl.layers.dense({ ...first, units: c.units, activation, useBias: c.use_bias })); break;
      case 'Conv2D':
        m.add(tfl.layers.conv2d({ ...first, filters: c.filters, kernelSize: c.kernel_size, strides: c.strides, padding: c.padding, activation, useBias: c.use_bias, dataFormat: 'channelsLast' }));
        break;
      case 'MaxPooling2D': m.add(tfl.layers.maxPooling2d({ ...first, poolSize: c.pool_size, strides: c.strides, padding: c.padding })); break;
      case 'Flatten': m.add(tfl.layers.flatten(first)); break;
      default: throw new Error(`unexpected layer class ${l.class_name}`);
    }
  });
  return m;
}

function lossOf(index: TraceIndex, f: tf.Tensor, y: tf.Tensor): tf.Scalar {
  if (index.loss.name === 'mse') return tf.mean(tf.squaredDifference(f, y)) as tf.Scalar;
  return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(f)), -1))) as tf.Scalar;
}

async function runTraced(name: string, cfg: Record<string, unknown>): Promise<{ dir: string; index: TraceIndex }> {
  const io = memoryIo(project.dir);
  const code = await main(['--backend', 'wasm', 'run', writeConfig(project.dir, cfg, `${name}.json`)], io);
  expect(code, io.err()).toBe(0);
  const dir = onlyRun(path.join(project.dir, `runs-${name}`));
  return { dir, index: readJson<TraceIndex>(path.join(dir, 'trace', 'index.json')) };
}

function checkRoundTrip(dir: string, index: TraceIndex): number {
  const model = modelFromIndex(index);
  const byLayer = new Map<string, tf.Tensor[]>();
  let checked = 0;
  for (const [round, r] of Object.entries(index.rounds)) {
    byLayer.clear();
    const weights = r.weights.map((f) => tensorOf(path.join(dir, 'trace', f)));
    index.weights.forEach((w, i) => {
      expect(weights[i].shape).toEqual(w.shape);
      byLayer.set(w.layer, [...(byLayer.get(w.layer) ?? []), weights[i]]);
    });
    index.model.layers.forEach((l, i) => { if (byLayer.has(l.name)) model.layers[i].setWeights(byLayer.get(l.name)!); });
    const x = tensorOf(path.join(dir, 'trace', r.x));
    const y = tensorOf(path.join(dir, 'trace', r.y));
    expect(x.shape[0]).toBe(r.size);
    const loss = tf.tidy(() => lossOf(index, model.predict(x) as tf.Tensor, y).dataSync()[0]);
    expect(r.loss, `round ${round}`).not.toBeNull();
    expect(Math.abs(loss - r.loss!) / Math.abs(r.loss!), `round ${round}: ${loss} vs ${r.loss}`).toBeLessThanOrEqual(1e-6);
    tf.dispose([...weights, x, y]);
    checked++;
  }
  model.dispose();
  return checked;
}

describe('trace', () => {
  it('dense autoencoder: index.json in Keras terms, weights before the step, losses recomputed from files alone', async () => {
    const cfg = tinyConfig({
      name: 'trace-dense', epochs: 1, batchSize: 64, output: { dir: 'runs-trace-dense', trace: { every: 2, maxRounds: 2 } },
      plugins: [{ name: 'echo' }],
    });
    const { dir, index } = await runTraced('trace-dense', cfg);
    expect(index.format).toBe('taylorlens-trace/1');
    expect(index.model).toEqual({
      class_name: 'Sequential', input_shape: [784], data_format: 'channels_last',
      layers: [
        { class_name: 'Dense', name: 'dense_0', config: { units: 16, activation: 'relu', use_bias: true } },
        { class_name: 'Dense', name: 'dense_1', config: { units: 784, activation: 'linear', use_bias: true } },
      ],
    });
    expect(index.weights.map((w) => [w.layer, w.name, w.shape, w.layout])).toEqual([
      ['dense_0', 'kernel', [784, 16], '[in, out]'], ['dense_0', 'bias', [16], '[out]'],
      ['dense_1', 'kernel', [16, 784], '[in, out]'], ['dense_1', 'bias', [784], '[out]'],
    ]);
    expect(index.loss).toMatchObject({ name: 'mse', on: 'outputs' });
    expect(index.loss.definition).toContain('mean over the batch and over every output unit');
    expect(Object.keys(index.rounds)).toEqual(['1', '3']);
    expect(checkRoundTrip(dir, index)).toBe(2);

    // Round 1's weights are the initial ones: recorded before the update.
    const initial = buildModel(cfg.model as never, cfg.seed as number);
    const w0 = readNpy(path.join(dir, 'trace', index.rounds['1'].weights[0]));
    expect(Buffer.from((w0.data as Float32Array).buffer).equals(Buffer.from((initial.getWeights()[0].dataSync() as Float32Array).buffer))).toBe(true);
    initial.dispose();
    // Plugins put their per-round values beside it.
    expect(readJson(path.join(dir, 'trace', 'echo-3.json'))).toEqual({ round: 3, rounds: 3 });
    expect(fs.existsSync(path.join(dir, 'trace', 'echo-2.json'))).toBe(false);
  });

  it('convnet classifier: NHWC batches, [kh, kw, in, out] kernels, softmax cross-entropy on logits', async () => {
    const cfg = tinyConfig({
      name: 'trace-conv', epochs: 1, batchSize: 16,
      model: {
        input: [28, 28, 1],
        layers: [
          { type: 'conv2d', filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' },
          { type: 'maxPooling2d', poolSize: 2 },
          { type: 'conv2d', filters: 4, kernelSize: [3, 2], strides: 2, activation: 'relu' },
          { type: 'flatten' },
          { type: 'dense', units: 10, activation: 'softmax' },
        ],
        loss: 'softmaxCrossEntropy',
      },
      data: { source: 'mnist', limit: 64, target: 'labels' },
      optimizer: { name: 'sgd', options: { learningRate: 0.1 } },
      output: { dir: 'runs-trace-conv', trace: { rounds: [1, 3, 4] } },
    });
    const { dir, index } = await runTraced('trace-conv', cfg);
    expect(index.model.layers.map((l) => l.class_name)).toEqual(['Conv2D', 'MaxPooling2D', 'Conv2D', 'Flatten', 'Dense']);
    expect(index.model.layers[2].config).toMatchObject({ kernel_size: [3, 2], strides: [2, 2], padding: 'valid', data_format: 'channels_last' });
    expect(index.model.layers[1].config).toMatchObject({ pool_size: [2, 2], strides: [2, 2] });
    expect(index.weights[0]).toMatchObject({ layer: 'conv2d_0', name: 'kernel', shape: [3, 3, 1, 3], layout: '[kernel_height, kernel_width, in_channels, out_channels]' });
    expect(index.weights[2].shape).toEqual([3, 2, 3, 4]);
    expect(index.loss).toMatchObject({ name: 'softmaxCrossEntropy', on: 'logits' });
    expect(index.target).toBe('labels');
    expect(Object.keys(index.rounds)).toEqual(['1', '3', '4']);
    const x = readNpy(path.join(dir, 'trace', index.rounds['1'].x));
    const y = readNpy(path.join(dir, 'trace', index.rounds['1'].y));
    expect(x.shape).toEqual([16, 28, 28, 1]);
    expect(y.shape).toEqual([16, 10]);
    expect(checkRoundTrip(dir, index)).toBe(3);
  });
});
