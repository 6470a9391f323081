/**
 * `lens.wrap(dataset)`: the dataset as tfjs's fitDataset reads it, with every batch it reads
 * handed to the lens. The wrapper sits last, so it sees exactly what fitDataset consumes, in
 * that order (a pipeline's own prefetching happens behind it). The batch is kept (a clone: the
 * same data, which fitDataset's disposal after its step leaves alone) until the callback takes it
 * at `onBatchBegin`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchTensors, type BatchIterator, type DatasetLike } from '../stream/dataset.js';
import type { TakenBatch } from './callback.js';

/** What `lens.wrap` returns: a dataset as `model.fitDataset` takes it. */
export interface WrappedDataset<T> {
  readonly size: number;
  iterator(): Promise<BatchIterator<T>>;
}

export class BatchQueue {
  private held: TakenBatch | null = null;

  /** `keep`: whether anyone needs the batches (else the wrapper only passes them through). */
  constructor(private readonly keep: () => boolean) {}

  wrap<T>(ds: DatasetLike<T>): WrappedDataset<T> {
    return {
      // tf.data says null for an unknown size; fitDataset reads any non-finite size as "unknown".
      size: typeof ds.size === 'number' ? ds.size : Infinity,
      iterator: async () => {
        const it = await ds.iterator();
        return {
          next: async () => {
            const r = await it.next();
            if (!r.done && this.keep()) this.offer(r.value);
            return r;
          },
        };
      },
    };
  }

  private offer(value: unknown): void {
    if (this.held) {
      throw new Error('lens.wrap(dataset): a batch was read before the previous one was trained; pass lens.callback() in '
        + 'model.fitDataset\'s callbacks, and iterate the wrapped dataset only there');
    }
    const { x, y } = batchTensors(value);
    const indices = (value as { indices?: unknown }).indices;
    this.held = { x: x.clone(), y: y.clone(), indices: indices instanceof Int32Array ? indices : null };
  }

  /** The batch read last (its tensors become the caller's), or null. */
  take(): TakenBatch | null {
    const b = this.held;
    this.held = null;
    return b;
  }

  dispose(): void {
    const b = this.take();
    if (b) tf.dispose([b.x, b.y]);
  }
}
