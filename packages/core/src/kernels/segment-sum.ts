import * as tf from '@tensorflow/tfjs-core';

type Backend = tf.KernelBackend & { readSync(id: unknown): tf.backend_util.BackendValues };

/**
 * UnsortedSegmentSum on the host: `out[s] = Σ_{i: ids[i] = s} x[i]`, rows added in index order in
 * float64 and rounded once (as the cpu kernel's masked sums do), ids outside [0, numSegments) dropped as TensorFlow
 * does. tfjs-backend-wasm 4.22 has no such kernel, and it is gather's gradient: without it an
 * Embedding layer cannot train there (model.fit fails alike).
 */
export function makeUnsortedSegmentSum(backendName: string): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
    const { numSegments } = attrs as unknown as { numSegments: number };
    const b = backend as Backend;
    if (x.dtype !== 'float32') throw new Error(`UnsortedSegmentSum on ${backendName}: only float32 is supported, got ${x.dtype}`);
    const values = b.readSync(x.dataId) as Float32Array;
    const ids = b.readSync(segmentIds.dataId) as Int32Array;
    // segmentIds may cover the leading axes of x (TensorFlow's rule): rows are what is left.
    const rowSize = ids.length === 0 ? 0 : values.length / ids.length;
    const shape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
    const sums = new Float64Array(numSegments * rowSize);
    for (let i = 0; i < ids.length; i++) {
      const s = ids[i];
      if (s < 0 || s >= numSegments) continue;
      for (let k = 0; k < rowSize; k++) sums[s * rowSize + k] += values[i * rowSize + k];
    }
    return { dataId: b.write(Float32Array.from(sums), shape, 'float32'), shape, dtype: 'float32' };
  };
  return { kernelName: 'UnsortedSegmentSum', backendName, kernelFunc };
}
