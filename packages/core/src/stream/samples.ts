/**
 * Where plugins draw samples from (the activation probe set): the training tensors, or one pass
 * over a stream. A stream is read in passes of its own (fresh iterators), never the training
 * iterator: `count` reads one pass (unless the tensors say), `gather` another, keeping only the
 * requested samples, so memory holds the draw and one batch at a time.
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchTensors, knownSize, type DatasetLike } from './dataset.js';

export interface SampleSource {
  /** 'tensor': indices name rows of the training inputs; 'stream': positions in one pass of the stream. */
  readonly kind: 'tensor' | 'stream';
  /** Samples in one pass. */
  count(): Promise<number>;
  /** The inputs at these positions, in the order given, stacked on the first axis; the caller owns the result. */
  gather(indices: readonly number[]): Promise<tf.Tensor>;
}

export function isSampleSource(v: unknown): v is SampleSource {
  const s = v as SampleSource | null;
  return !(v instanceof tf.Tensor) && (s?.kind === 'tensor' || s?.kind === 'stream') && typeof s.gather === 'function';
}

export function tensorSamples(x: tf.Tensor): SampleSource {
  return {
    kind: 'tensor',
    count: async () => x.shape[0],
    gather: async (indices) => tf.tidy(() => tf.gather(x, tf.tensor1d(Int32Array.from(indices), 'int32'))),
  };
}

/**
 * One pass of a stream: until its iterator ends, or `batches` batches when given (an endless
 * stream needs it). A stream that reshuffles on each pass gives a uniform draw whose positions
 * do not name fixed samples.
 */
export function streamSamples(ds: DatasetLike<unknown>, opts: { batches?: number | null } = {}): SampleSource {
  const limit = opts.batches ?? knownSize(ds);
  let counted: number | null = null;
  /** Visit one pass, batch by batch; `visit` returns false to stop early. Batch tensors are disposed after each visit. */
  const pass = async (visit: (x: tf.Tensor, start: number) => boolean): Promise<number> => {
    if (limit === null && ds.size === Infinity) {
      throw new Error('the training stream is endless (size Infinity): say how many batches make an epoch (batchesPerEpoch)');
    }
    const it = await ds.iterator();
    let seen = 0;
    for (let b = 0; limit === null || b < limit; b++) {
      const r = await it.next();
      if (r.done) break;
      const { x, y } = batchTensors(r.value);
      const more = visit(x, seen);
      seen += x.shape[0];
      tf.dispose([x, y]);
      if (!more) break;
    }
    return seen;
  };
  return {
    kind: 'stream',
    count: async () => (counted ??= await pass(() => true)),
    gather: async (indices) => {
      if (indices.length === 0) throw new RangeError('no samples asked for');
      // Read in increasing order, then put the rows back in the order asked for.
      const sorted = [...new Set(indices)].sort((a, b) => a - b);
      const pieces: tf.Tensor[] = [];
      let k = 0;
      await pass((x, start) => {
        const local: number[] = [];
        while (k < sorted.length && sorted[k] < start + x.shape[0]) local.push(sorted[k++] - start);
        if (local.length > 0) pieces.push(tf.tidy(() => tf.gather(x, tf.tensor1d(Int32Array.from(local), 'int32'))));
        return k < sorted.length;
      });
      if (k < sorted.length || sorted[0] < 0) {
        tf.dispose(pieces);
        throw new RangeError(`sample ${sorted[Math.min(k, sorted.length - 1)]} is outside the training stream`);
      }
      const rowOf = new Map(sorted.map((v, i) => [v, i]));
      const out = tf.tidy(() => tf.gather(tf.concat(pieces), tf.tensor1d(Int32Array.from(indices, (i) => rowOf.get(i)!), 'int32')));
      tf.dispose(pieces);
      return out;
    },
  };
}
