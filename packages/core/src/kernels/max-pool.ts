import * as tf from '@tensorflow/tfjs-core';

/**
 * Correct max-pool argmax and gradient for backends whose stock kernels get them wrong.
 * wasm's MaxPoolGrad and MaxPoolWithArgmax start each window's maximum at 0, so a window whose
 * maximum is ≤ 0 routes its gradient to the wrong cell or drops it. These kernels work on the
 * host: max-pooling is linear-time, so a plain loop is fast enough next to the convolutions.
 * Ties go to the first maximum in row-major window order, as on the cpu backend.
 */
interface PoolAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  includeBatchInIndex?: boolean;
}

interface WritableBackend extends tf.KernelBackend {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeOutput?(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap?(info: tf.TensorInfo): tf.backend_util.TypedArray;
}

function poolInfo(shape: number[], attrs: PoolAttrs) {
  return tf.backend_util.computePool2DInfo(
    shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
}

/** For every output cell, the flat index (within the sample) of its window's first maximum. */
export function maxPoolArgmax(x: Float32Array, info: tf.backend_util.Conv2DInfo): Int32Array {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth,
    filterHeight, filterWidth, padInfo } = info;
  const out = new Int32Array(batchSize * outHeight * outWidth * inChannels);
  const sampleSize = inHeight * inWidth * inChannels;
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    const base = b * sampleSize;
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * strideHeight - padInfo.top;
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * strideWidth - padInfo.left;
        for (let c = 0; c < inChannels; c++, o++) {
          let best = -Infinity;
          let bestIdx = -1;
          for (let fy = 0; fy < filterHeight; fy++) {
            const y = y0 + fy;
            if (y < 0 || y >= inHeight) continue;
            for (let fx = 0; fx < filterWidth; fx++) {
              const xx = x0 + fx;
              if (xx < 0 || xx >= inWidth) continue;
              const idx = (y * inWidth + xx) * inChannels + c;
              const v = x[base + idx];
              if (v > best || bestIdx < 0) { best = v; bestIdx = idx; }
            }
          }
          out[o] = bestIdx;
        }
      }
    }
  }
  return out;
}

function output(backend: WritableBackend, shape: number[], dtype: tf.DataType, values: tf.backend_util.TypedArray): tf.TensorInfo {
  if (backend.makeOutput && backend.typedArrayFromHeap) {
    const info = backend.makeOutput(shape, dtype);
    backend.typedArrayFromHeap(info).set(values);
    return info;
  }
  return { dataId: backend.write(values, shape, dtype), shape, dtype };
}

export function makeMaxPoolGrad(backendName: string): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    const b = backend as WritableBackend;
    const info = poolInfo(input.shape, attrs as unknown as PoolAttrs);
    const argmax = maxPoolArgmax(b.readSync(input.dataId) as Float32Array, info);
    const dyv = b.readSync(dy.dataId) as Float32Array;
    const dx = new Float32Array(input.shape.reduce((a, s) => a * s, 1));
    const sampleSize = info.inHeight * info.inWidth * info.inChannels;
    const outPerSample = info.outHeight * info.outWidth * info.inChannels;
    for (let i = 0; i < argmax.length; i++) {
      dx[Math.floor(i / outPerSample) * sampleSize + argmax[i]] += dyv[i];
    }
    return output(b, input.shape, 'float32', dx);
  };
  return { kernelName: 'MaxPoolGrad', backendName, kernelFunc };
}

export function makeMaxPoolWithArgmax(backendName: string): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const b = backend as WritableBackend;
    const a = attrs as unknown as PoolAttrs & { ksize: number[]; strides: number[] };
    const info = poolInfo(x.shape, { ...a, filterSize: a.filterSize ?? (a.ksize as [number, number]) });
    const xv = b.readSync(x.dataId) as Float32Array;
    const argmax = maxPoolArgmax(xv, info);
    const values = new Float32Array(argmax.length);
    const sampleSize = info.inHeight * info.inWidth * info.inChannels;
    const outPerSample = info.outHeight * info.outWidth * info.inChannels;
    const indexes = new Int32Array(argmax.length);
    for (let i = 0; i < argmax.length; i++) {
      const sampleBase = Math.floor(i / outPerSample) * sampleSize;
      values[i] = xv[sampleBase + argmax[i]];
      indexes[i] = a.includeBatchInIndex ? sampleBase + argmax[i] : argmax[i];
    }
    const shape = [info.batchSize, info.outHeight, info.outWidth, info.inChannels];
    return [output(b, shape, 'float32', values), output(b, shape, 'int32', indexes)];
  };
  return { kernelName: 'MaxPoolWithArgmax', backendName, kernelFunc };
}
