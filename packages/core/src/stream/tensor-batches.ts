/**
 * Batches of in-memory tensors, cut the way the Trainer cuts them: the epoch's order is a fresh
 * `SeededRandom` permutation (or 0..n−1 without shuffling), and a batch is a contiguous slice
 * when in order, else a gather. The Trainer and the drop-in `fit` both use this, so the same seed
 * gives the same batches, bit for bit.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SeededRandom } from '../random.js';
import type { DatasetLike, XYBatch } from './dataset.js';

/** The order of one epoch's samples. */
export function epochOrder(rng: SeededRandom, n: number, shuffle: boolean): Int32Array {
  return shuffle ? rng.permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
}

/**
 * Rows `start … start + size − 1` of `x` (a new tensor). A gather, not `tf.slice`: the wasm
 * backend's slice copies the whole input out of wasm memory first (31 MB per batch for MNIST's test
 * set, 21 s of a 30 s epoch's validation), its gather reads only the rows. Same values.
 */
export function rowsOf(x: tf.Tensor, start: number, size: number): tf.Tensor {
  return tf.tidy(() => tf.gather(x, tf.range(start, start + size, 1, 'int32')));
}

/** The batch at `indices` (new tensors, the caller's). */
export function takeBatch(x: tf.Tensor, y: tf.Tensor, indices: Int32Array, shuffled: boolean): [tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    if (!shuffled) return [rowsOf(x, indices[0], indices.length), rowsOf(y, indices[0], indices.length)];
    const idx = tf.tensor1d(indices, 'int32');
    return [tf.gather(x, idx), tf.gather(y, idx)];
  });
}

/** Takes the batch at `indices` (new tensors, the caller's); `shuffled` false: a contiguous run. */
export type BatchTaker = (indices: Int32Array, shuffled: boolean) => [tf.Tensor, tf.Tensor];

/** Data tensors up to this many elements are copied to the host once for `batchTaker` (1 GiB of float32). */
const HOST_ROWS_MAX = 2 ** 28;

/**
 * Batches of `x`, `y` by sample index, the same values as `takeBatch`. On wasm and cpu the rows are
 * copied on the host from one read of each data tensor, made at the first batch: wasm's gather
 * walks element by element (2 ms per 64 MNIST images, about a fifth of a plain training epoch),
 * and cpu's read is its own array (no copy). Other backends, and tensors over 1 GiB, gather.
 */
export function batchTaker(x: tf.Tensor, y: tf.Tensor): BatchTaker {
  const backend = tf.getBackend();
  if ((backend !== 'wasm' && backend !== 'cpu') || x.size > HOST_ROWS_MAX || y.size > HOST_ROWS_MAX) {
    return (indices, shuffled) => takeBatch(x, y, indices, shuffled);
  }
  const xRows = hostRows(x);
  const yRows = y === x ? xRows : hostRows(y);
  return (indices) => [xRows(indices), yRows(indices)];
}

/** Rows of `t` at `indices` copied from a host copy of `t` (read at the first call). */
function hostRows(t: tf.Tensor): (indices: Int32Array) => tf.Tensor {
  const width = t.shape.slice(1).reduce((a, b) => a * b, 1);
  let data: Float32Array | Int32Array | Uint8Array | null = null;
  return (indices) => {
    data ??= t.dataSync() as Float32Array | Int32Array | Uint8Array;
    const out = new (data.constructor as Float32ArrayConstructor)(indices.length * width);
    for (let i = 0; i < indices.length; i++) out.set(data.subarray(indices[i] * width, (indices[i] + 1) * width), i * width);
    return tf.tensor(out, [indices.length, ...t.shape.slice(1)], t.dtype);
  };
}

/** A stream element that also says which samples it holds (read by the lens, ignored by tfjs). */
export interface IndexedBatch extends XYBatch {
  indices: Int32Array;
}

export interface TensorBatchesOptions {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  /** Epochs already trained (a resumed `initialEpoch`): their permutations are drawn and skipped. */
  skipEpochs?: number;
}

/**
 * `x`, `y` as a stream: each `iterator()` is the next epoch, its order drawn at its first `next()`
 * (tfjs's fitDataset makes one iterator it never reads before the first epoch's).
 */
export function tensorBatches(x: tf.Tensor, y: tf.Tensor, o: TensorBatchesOptions): DatasetLike<IndexedBatch> & { size: number } {
  const n = x.shape[0];
  if (y.shape[0] !== n) throw new Error(`x has ${n} samples but y has ${y.shape[0]}`);
  const rng = new SeededRandom(o.seed);
  for (let e = 0; e < (o.skipEpochs ?? 0); e++) epochOrder(rng, n, o.shuffle);
  const batches = Math.ceil(n / o.batchSize);
  const take = batchTaker(x, y);
  return {
    size: batches,
    iterator: async () => {
      let order: Int32Array | null = null;
      let b = 0;
      return {
        next: async (): Promise<IteratorResult<IndexedBatch>> => {
          order ??= epochOrder(rng, n, o.shuffle);
          if (b >= batches) return { done: true, value: undefined };
          const indices = order.subarray(b * o.batchSize, Math.min(n, (b + 1) * o.batchSize));
          b += 1;
          const [xs, ys] = take(indices, o.shuffle);
          return { done: false, value: { xs, ys, indices } };
        },
      };
    },
  };
}
