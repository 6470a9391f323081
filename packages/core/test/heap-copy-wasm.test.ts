import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, stockKernel } from '@taylorlens/core';
import { SeededRandom } from '../src/random.js';

/** Brute force: the entries of x (row-major, shape) at begin … begin + size. */
function sliceByLoops(values: ArrayLike<number>, shape: number[], begin: number[], size: number[]): number[] {
  const out: number[] = [];
  const strides = shape.map((_, k) => shape.slice(k + 1).reduce((a, b) => a * b, 1));
  const walk = (k: number, at: number) => {
    if (k === shape.length) { out.push(values[at]); return; }
    for (let i = 0; i < size[k]; i++) walk(k + 1, at + (begin[k] + i) * strides[k]);
  };
  walk(0, 0);
  return out;
}

const DTYPES = ['float32', 'int32', 'bool'] as const;

describe('Slice, SplitV, Unpack and GatherV2 on wasm read the heap in place (ours), with the stock kernels\' values', () => {
  it('every rank 1–6, every dtype, contiguous or not, sizes of −1 and 0: equal brute force, the cpu backend and the stock wasm kernel', async () => {
    const rng = new SeededRandom(7);
    const int = (n: number) => Math.floor(rng.next() * n);
    const cases: { shape: number[]; begin: number[]; size: number[]; dtype: (typeof DTYPES)[number] }[] = [];
    for (let t = 0; t < 120; t++) {
      const rank = 1 + (t % 6);
      const shape = Array.from({ length: rank }, () => 1 + int(5));
      const begin = shape.map((d) => int(d));
      const size = shape.map((d, k) => (int(6) === 0 ? -1 : int(6) === 0 ? 0 : 1 + int(d - begin[k])));
      cases.push({ shape, begin, size, dtype: DTYPES[t % 3] });
    }
    cases.push({ shape: [64, 784], begin: [10, 0], size: [20, 784], dtype: 'float32' }); // rows: contiguous
    cases.push({ shape: [640, 50], begin: [0, 7], size: [640, 1], dtype: 'float32' }); // a column
    cases.push({ shape: [3, 40, 30], begin: [1, 2, 3], size: [2, 30, 20], dtype: 'float32' }); // long runs
    const results: Record<string, number[][]> = {};
    for (const backend of ['cpu', 'wasm']) {
      await selectBackend(backend);
      results[backend] = cases.map(({ shape, begin, size, dtype }, t) => tf.tidy(() => {
        const n = shape.reduce((a, b) => a * b, 1);
        const x = tf.tensor(Array.from({ length: n }, (_, i) => (dtype === 'bool' ? (i * 7 + t) % 3 === 0 : dtype === 'int32' ? i * 3 - 50 : (i - 17.5) / 3)), shape, dtype);
        const y = tf.slice(x, begin, size);
        const full = size.map((s, k) => (s === -1 ? shape[k] - begin[k] : s));
        expect(y.shape).toEqual(full);
        expect(y.dtype).toBe(dtype);
        const got = Array.from(y.dataSync() as ArrayLike<number>);
        expect(got).toEqual(sliceByLoops(x.dataSync() as ArrayLike<number>, shape, begin, full));
        if (backend === 'wasm') {
          const stock = stockKernel('Slice', 'wasm')!;
          const info = stock.kernelFunc({ inputs: { x }, attrs: { begin, size }, backend: tf.backend() }) as tf.TensorInfo;
          const viaStock = tf.engine().makeTensorFromTensorInfo(info);
          expect(got).toEqual(Array.from(viaStock.dataSync() as ArrayLike<number>));
        }
        return got;
      }));
    }
    expect(results.wasm).toEqual(results.cpu);
  });

  it('does not read the input out of wasm memory, and leaks nothing', async () => {
    await selectBackend('wasm');
    const x = tf.randomNormal([100, 30], 0, 1, 'float32', 3);
    const b = tf.backend() as unknown as { readSync(id: unknown): unknown };
    const readSync = b.readSync;
    let reads = 0;
    b.readSync = function (this: unknown, id: unknown) { if (id === x.dataId) reads++; return readSync.call(this, id); };
    const before = tf.memory().numTensors;
    try {
      tf.dispose([tf.slice(x, [5, 0], [10, 30]), tf.slice(x, [0, 3], [100, 4]), ...tf.split(x, [10, 20, 70]), ...tf.unstack(x, 1), tf.gather(x, [99, 0, 5, 5])]);
    } finally {
      b.readSync = readSync;
    }
    expect(reads).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('split and unstack along every axis equal the cpu backend', async () => {
    const run = async (backend: string) => {
      await selectBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor3d(Array.from({ length: 4 * 5 * 6 }, (_, i) => i / 7 - 3), [4, 5, 6]);
        const out: { shape: number[]; values: number[] }[] = [];
        const add = (ts: tf.Tensor[]) => { for (const t of ts) out.push({ shape: t.shape, values: Array.from(t.dataSync()) }); };
        add(tf.split(x, [1, -1, 2], 2));
        add(tf.split(x, 2, 0));
        add(tf.split(x, [2, 0, 3], 1));
        for (const axis of [0, 1, 2, -1]) add(tf.unstack(x, axis));
        add(tf.split(tf.tensor1d([1, 2, 3, 4, 5, 6], 'int32'), 3));
        return out;
      });
    };
    const cpu = await run('cpu');
    expect(await run('wasm')).toEqual(cpu);
  });

  it('gather on every axis, with batch dimensions, 1-D and 2-D indices, every dtype: equals brute force, cpu and (without batch dimensions, where it is right) the stock kernel; a bad index throws as the stock one does', async () => {
    const cases: { shape: number[]; indices: number[][] | number[]; axis: number; batchDims: number; dtype: (typeof DTYPES)[number] }[] = [
      { shape: [60, 784], indices: [59, 0, 7, 7, 31], axis: 0, batchDims: 0, dtype: 'float32' }, // rows: the batches of model.fit
      { shape: [4, 5, 6], indices: [4, 0, 2], axis: 1, batchDims: 0, dtype: 'float32' },
      { shape: [4, 5, 6], indices: [[5, 0], [1, 1]], axis: 2, batchDims: 0, dtype: 'int32' },
      { shape: [4, 5, 6], indices: [[3, 0, 1], [4, 4, 2], [0, 0, 0], [1, 2, 3]], axis: 1, batchDims: 1, dtype: 'float32' },
      { shape: [3, 2, 40], indices: [[1, 0], [0, 0], [1, 1]], axis: 1, batchDims: 1, dtype: 'bool' },
      { shape: [7], indices: [6, 1, 0], axis: 0, batchDims: 0, dtype: 'int32' },
      { shape: [5, 3], indices: [], axis: 0, batchDims: 0, dtype: 'float32' },
    ];
    const run = async (backend: string) => {
      await selectBackend(backend);
      return cases.map(({ shape, indices, axis, batchDims, dtype }, t) => tf.tidy(() => {
        const n = shape.reduce((a, b) => a * b, 1);
        const x = tf.tensor(Array.from({ length: n }, (_, i) => (dtype === 'bool' ? (i * 5 + t) % 3 === 0 : dtype === 'int32' ? i * 3 - 50 : (i - 17.5) / 3)), shape, dtype);
        const idx = tf.tensor(indices as number[], Array.isArray(indices[0]) ? [indices.length, (indices[0] as number[]).length] : [indices.length], 'int32');
        const y = tf.gather(x, idx, axis, batchDims);
        const got = { shape: y.shape, values: Array.from(y.dataSync() as ArrayLike<number>) };
        // The stock wasm kernel is wrong with batch dimensions (tfjs-backend-wasm 4.22: batch 1's
        // rows come from the wrong places); ours equals cpu there too.
        if (backend === 'wasm' && batchDims === 0) {
          const stock = stockKernel('GatherV2', 'wasm')!;
          // Its wasm function is bound by its setup, which the backend skips once ours replaced it.
          stock.setupFunc?.(tf.backend());
          const info = stock.kernelFunc({ inputs: { x, indices: idx }, attrs: { axis, batchDims }, backend: tf.backend() }) as tf.TensorInfo;
          const viaStock = tf.engine().makeTensorFromTensorInfo(info);
          expect(got.values).toEqual(Array.from(viaStock.dataSync() as ArrayLike<number>));
          expect(got.shape).toEqual(viaStock.shape);
        }
        return got;
      }));
    };
    const cpu = await run('cpu');
    // Brute force for the rows case: row i of the output is row indices[i] of x.
    const xs = Array.from({ length: 60 * 784 }, (_, i) => Math.fround((i - 17.5) / 3));
    expect(cpu[0].values).toEqual((cases[0].indices as number[]).flatMap((r) => xs.slice(r * 784, (r + 1) * 784)));
    expect(await run('wasm')).toEqual(cpu);
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    expect(() => tf.gather(x, tf.tensor1d([2], 'int32'))).toThrow(/GatherV2: the index value 2 is not in \[0, 1\]/);
    expect(() => tf.gather(x, tf.tensor1d([-1], 'int32'))).toThrow(/GatherV2: the index value -1/);
    x.dispose();
  });
});
