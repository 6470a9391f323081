/**
 * Training data as a stream of batches: the shape `model.fitDataset` reads, which a
 * `tf.data.Dataset` of `{ xs, ys }` batches has. Typed structurally, so taylorlens needs no
 * tfjs-data dependency and any object with `iterator()` works.
 */
import * as tf from '@tensorflow/tfjs-core';

/** One element of the stream: a batch, as `model.fitDataset` takes it (one input, one output). */
export interface XYBatch {
  xs: tf.Tensor | tf.Tensor[] | Record<string, tf.Tensor>;
  ys: tf.Tensor | tf.Tensor[] | Record<string, tf.Tensor>;
}

export interface BatchIterator<T = XYBatch> {
  next(): Promise<IteratorResult<T>>;
}

/** What `tf.data.Dataset<{ xs, ys }>` offers and `model.fitDataset` uses: a fresh iterator per call, and a size in batches. */
export interface DatasetLike<T = XYBatch> {
  iterator(): Promise<BatchIterator<T>>;
  /** Batches per pass: a number, Infinity (endless) or null (unknown), as in tf.data. */
  readonly size?: number | null;
}

export function isDatasetLike(v: unknown): v is DatasetLike {
  return typeof (v as DatasetLike | null)?.iterator === 'function';
}

/** Batches per pass when the dataset says (a finite size), else null. */
export function knownSize(ds: DatasetLike<unknown>): number | null {
  return typeof ds.size === 'number' && Number.isFinite(ds.size) ? ds.size : null;
}

function single(what: 'xs' | 'ys', v: XYBatch['xs']): tf.Tensor {
  if (v instanceof tf.Tensor) return v;
  const all = Array.isArray(v) ? v : Object.values(v ?? {});
  if (all.length === 1 && all[0] instanceof tf.Tensor) return all[0];
  throw new Error(`a stream element's ${what} must be one tensor (a chain model has one input and one output); got ${all.length} values`);
}

/** The input and target tensors of one stream element (not copied: they stay the stream's). */
export function batchTensors(value: unknown): { x: tf.Tensor; y: tf.Tensor } {
  const v = value as Partial<XYBatch> | null;
  if (!v || v.xs === undefined || v.ys === undefined) {
    throw new Error('a training stream must yield { xs, ys } batches, as model.fitDataset expects');
  }
  const x = single('xs', v.xs);
  const y = single('ys', v.ys);
  if (x.shape[0] !== y.shape[0]) throw new Error(`a stream batch has ${x.shape[0]} inputs but ${y.shape[0]} targets`);
  return { x, y };
}
