import * as tf from '@tensorflow/tfjs-core';

/** The parts of tfjs-backend-wasm's backend these kernels use (its own kernels use the same). */
type HeapBackend = tf.KernelBackend & {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
};

/**
 * `x[begin … begin + size)` copied from wasm's heap to the output's place in it. The stock wasm
 * Slice first reads its whole input out of the heap into a fresh array (`readSync`), then cuts:
 * all of MNIST's 188 MB for each batch a hand-written loop slices out of it (0.5 s a batch), a
 * whole parameter vector per part of a `tf.split`. Same values, any rank; strings go to the stock
 * kernel.
 */
function sliceOnHeap(backend: HeapBackend, x: tf.TensorInfo, begin: number | number[], size?: number | number[]): tf.TensorInfo {
  const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
  const out = backend.makeOutput(s, x.dtype);
  const n = tf.util.sizeFromShape(s);
  if (n === 0) return out;
  // Views after makeOutput: it may grow the heap, which detaches earlier views.
  const from = backend.typedArrayFromHeap(x);
  const to = backend.typedArrayFromHeap(out);
  const rank = x.shape.length;
  const strides = tf.util.computeStrides(x.shape);
  if (rank === 0 || tf.slice_util.isSliceContinous(x.shape, b, s)) {
    const at = rank === 0 ? 0 : tf.slice_util.computeFlatOffset(b, strides);
    to.set(from.subarray(at, at + n));
    return out;
  }
  // Runs along the last axis, the outer indices counted like an odometer.
  const run = s[rank - 1];
  const index = new Array<number>(rank - 1).fill(0);
  for (let o = 0; o < n; o += run) {
    let at = b[rank - 1];
    for (let k = 0; k < rank - 1; k++) at += (b[k] + index[k]) * strides[k];
    copyRun(from, at, to, o, run);
    for (let k = rank - 2; k >= 0; k--) {
      if (++index[k] < s[k]) break;
      index[k] = 0;
    }
  }
  return out;
}

/** `to[o …] = from[at …]`, `run` entries: a loop for short runs, where a subarray costs more. */
function copyRun(from: tf.backend_util.TypedArray, at: number, to: tf.backend_util.TypedArray, o: number, run: number): void {
  if (run < 16) for (let j = 0; j < run; j++) to[o + j] = from[at + j];
  else to.set(from.subarray(at, at + run), o);
}

type Stock = (kernel: string) => tf.KernelConfig | undefined;

/** A heap-copy kernel for every dtype but strings, which go to the stock kernel (input `input` decides). */
function heapKernel(stock: Stock, kernelName: string, input: string, run: tf.KernelFunc): (backendName: string) => tf.KernelConfig {
  return (backendName) => ({
    kernelName, backendName,
    kernelFunc: (args) => {
      if ((args.inputs as Record<string, tf.TensorInfo>)[input].dtype !== 'string') return run(args);
      const k = stock(kernelName);
      if (!k) throw new Error(`stock wasm has no ${kernelName}`);
      return k.kernelFunc(args);
    },
  });
}

export function makeWasmSlice(stock: Stock): (backendName: string) => tf.KernelConfig {
  return heapKernel(stock, 'Slice', 'x', (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size?: number | number[] };
    return sliceOnHeap(args.backend as HeapBackend, x, begin, size);
  });
}

/** tf.split: the stock SplitV calls the stock slice directly, so it is replaced alike. */
export function makeWasmSplitV(stock: Stock): (backendName: string) => tf.KernelConfig {
  return heapKernel(stock, 'SplitV', 'x', (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    const a = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, a);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((part) => {
      const size = [...x.shape];
      size[a] = part;
      const piece = sliceOnHeap(args.backend as HeapBackend, x, [...begin], size);
      begin[a] += part;
      return piece;
    });
  });
}

/** tf.unstack: the stock Unpack also calls the stock slice directly. */
export function makeWasmUnpack(stock: Stock): (backendName: string) => tf.KernelConfig {
  return heapKernel(stock, 'Unpack', 'value', (args) => {
    const { value } = args.inputs as { value: tf.TensorInfo };
    const { axis } = args.attrs as unknown as { axis: number };
    const rank = value.shape.length;
    const a = axis < 0 ? axis + rank : axis;
    const outShape = value.shape.filter((_, k) => k !== a);
    const begin = new Array<number>(rank).fill(0);
    const size = [...value.shape];
    size[a] = 1;
    return Array.from({ length: value.shape[a] }, (_, i) => {
      begin[a] = i;
      const piece = sliceOnHeap(args.backend as HeapBackend, value, [...begin], size);
      return { dataId: piece.dataId, dtype: piece.dtype, shape: outShape };
    });
  });
}

/**
 * tf.gather (and so tfjs's shuffled `model.fit` batches): `out[b, o, i, :] = x[b, o, idx[b, i], :]`
 * copied heap to heap a run of `sliceSize` at a time. The stock wasm kernel walks the output
 * element by element (2 ms per 64 MNIST images) and takes rows from the wrong places when
 * batchDims > 0 (tfjs-backend-wasm 4.22). The cpu backend's values, the stock range check.
 */
export function makeWasmGatherV2(stock: Stock): (backendName: string) => tf.KernelConfig {
  return heapKernel(stock, 'GatherV2', 'x', (args) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
    const backend = args.backend as HeapBackend;
    const a = tf.util.parseAxisParam(axis, x.shape)[0];
    const dimSize = x.shape[a];
    const idx = backend.typedArrayFromHeap(indices);
    for (let i = 0; i < idx.length; i++) {
      if (!(idx[i] <= dimSize - 1 && idx[i] >= 0)) throw new Error(`GatherV2: the index value ${idx[i]} is not in [0, ${dimSize - 1}]`);
    }
    const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(x as tf.Tensor, indices as tf.Tensor, a, batchDims);
    const perBatch = idx.length / info.batchSize;
    const out = backend.makeOutput(info.outputShape, x.dtype);
    if (tf.util.sizeFromShape(x.shape) === 0 || tf.util.sizeFromShape(info.outputShape) === 0) return out;
    // Views after makeOutput (it may grow the heap); the indices re-read for the same reason.
    const from = backend.typedArrayFromHeap(x);
    const to = backend.typedArrayFromHeap(out);
    const at = backend.typedArrayFromHeap(indices);
    const run = info.sliceSize;
    let o = 0;
    for (let b = 0; b < info.batchSize; b++) {
      for (let outer = 0; outer < info.outerSize; outer++) {
        const base = (b * info.outerSize + outer) * info.dimSize;
        for (let i = 0; i < perBatch; i++) {
          const src = (base + at[b * perBatch + i]) * run;
          copyRun(from, src, to, o, run);
          o += run;
        }
      }
    }
    return out;
  });
}
