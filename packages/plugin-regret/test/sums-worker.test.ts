import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@taylorlens/core';
import { denseLayerReducer } from '../src/quadratic/dense-layer-statistics.js';
import { denseNeuronReducer } from '../src/quadratic/dense-neuron-statistics.js';
import { sumsOffThread, sumsWorkerTensors } from '../src/quadratic/sums-worker.js';
import { addBlockSymmetric, addUnpackedKron, blockLayout } from '../src/quadratic/packed.js';
import { QuadraticStatistics } from '../src/quadratic/statistics.js';

/** Rounds of a dense layer scope's pieces [x̃, κ packed Grams, κh, c'] (q inputs with the bias column, p units). */
function rounds(n: number, B: number, q: number, p: number, seed: number): tf.Tensor[][] {
  const mp = (p * (p + 1)) / 2;
  return Array.from({ length: n }, (_, r) => tf.tidy(() => [
    tf.concat([tf.randomNormal([B, q - 1], 0, 1, 'float32', seed + r), tf.ones([B, 1])], 1),
    tf.randomUniform([B, mp], -1, 1, 'float32', seed + 100 + r),
    tf.randomNormal([B, p], 0, 1, 'float32', seed + 200 + r),
    tf.scalar(r * 0.25 - 1),
  ]));
}

describe('a dense layer scope\'s A on the statistics sums worker', () => {
  const dirs: string[] = [];
  afterAll(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

  for (const backend of ['cpu', 'wasm']) it(`gives the device path's bits: the same float32 matmuls and running sum, moved into float64 at the same rounds; a checkpoint mid-way continues bit for bit (${backend})`, async () => {
    await selectBackend(backend);
    const q = 9, p = 4, B = 5;
    const layout = blockLayout(q);
    const P = q * p;
    const make = (worker: boolean) => new QuadraticStatistics(1, P, denseLayerReducer, (a, A) => addUnpackedKron(a, layout, p, A), 3, 7, worker ? sumsOffThread({ kind: 'layer', layout, p }) : null);
    const data = rounds(20, B, q, p, 3);
    const before = tf.memory().numTensors;
    const device = make(false);
    const worker = make(true);
    const resumed = make(true);
    let restored: QuadraticStatistics | null = null;
    try {
      for (const [r, pieces] of data.entries()) {
        await device.add(pieces.map((t) => t.clone()));
        await worker.add(pieces.map((t) => t.clone()));
        if (r < 11) await resumed.add(pieces.map((t) => t.clone()));
        if (r === 10) {
          // Mid-buffer and mid-move: buffered rounds, a device g/c sum and the worker's float32 partial A.
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layer-sums-'));
          dirs.push(dir);
          const state = await resumed.saveState(dir);
          expect(state.deviceA).toBe(true);
          restored = make(true);
          restored.loadState(dir, state);
        }
        if (r > 10) await restored!.add(pieces.map((t) => t.clone()));
      }
      for (const s of [device, worker, restored!]) await s.flush();
      // The worker's own tfjs holds one running sum per open statistics object (worker, resumed, restored): nothing leaks there either.
      expect(await sumsWorkerTensors()).toBe(3);
      expect(device.A.some((v) => v !== 0)).toBe(true);
      expect(worker.A.buffer instanceof SharedArrayBuffer).toBe(true); // written by the worker
      for (const s of [worker, restored!]) {
        expect(Array.from(s.A)).toEqual(Array.from(device.A));
        expect(Array.from(s.g)).toEqual(Array.from(device.g));
        expect(Array.from(s.c)).toEqual(Array.from(device.c));
        expect(s.matrix(0)).toEqual(device.matrix(0));
      }
    } finally {
      for (const s of [device, worker, resumed, restored]) s?.dispose();
    }
    expect(tf.memory().numTensors).toBe(before); // nothing left on this thread
    tf.dispose(data.flat());
    await selectBackend('cpu');
  });
});

describe('dense neurons\' A on the statistics sums worker', () => {
  for (const [backend, K] of [['cpu', 3], ['wasm', 3], ['cpu', 1]] as const) it(`gives the device path's bits (${backend}, ${K === 1 ? 'one A shared by every unit' : `${K} neurons, inactive units included`})`, async () => {
    await selectBackend(backend);
    const q = 7, B = 4;
    const layout = blockLayout(q);
    const data = Array.from({ length: 13 }, (_, r) => tf.tidy(() => [
      tf.concat([tf.randomNormal([B, q - 1], 0, 1, 'float32', r), tf.ones([B, 1])], 1),
      K === 1 ? tf.fill([B, 1], 0.5) : tf.relu(tf.randomNormal([B, K], 0, 1, 'float32', 50 + r)),
      tf.randomNormal([B, 3], 0, 1, 'float32', 80 + r),
      tf.randomNormal([3], 0, 1, 'float32', 90 + r),
    ]));
    const problems = 3;
    const make = (worker: boolean) => new QuadraticStatistics(problems, q, denseNeuronReducer, (a, A) => addBlockSymmetric(a, problems, layout, A), 3, 5,
      worker ? sumsOffThread({ kind: 'neurons', layout, K: problems }) : null);
    const before = tf.memory().numTensors;
    const [device, worker] = [make(false), make(true)];
    try {
      for (const pieces of data) for (const s of [device, worker]) await s.add(pieces.map((t) => t.clone()));
      for (const s of [device, worker]) await s.flush();
      expect(device.A.some((v) => v !== 0)).toBe(true);
      expect(Array.from(worker.A)).toEqual(Array.from(device.A));
      expect(Array.from(worker.g)).toEqual(Array.from(device.g));
      for (let k = 0; k < problems; k++) expect(worker.matrix(k)).toEqual(device.matrix(k));
    } finally {
      device.dispose();
      worker.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(data.flat());
    await selectBackend('cpu');
  });
});
