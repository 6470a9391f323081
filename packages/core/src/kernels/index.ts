import * as tf from '@tensorflow/tfjs-core';
import { makeConv2DBackpropFilter } from './conv2d-backprop-filter.js';
import { makeDepthwiseBackpropFilter, makeDepthwiseBackpropInput } from './depthwise.js';
import { makeMaxPoolGrad, makeMaxPoolWithArgmax } from './max-pool.js';
import { makeWebgpuMaxPoolGrad, makeWebgpuMaxPoolWithArgmax } from './max-pool-webgpu.js';
import { makeWebgpuTile } from './tile-webgpu.js';
import { makeUnsortedSegmentSum } from './segment-sum.js';
import { makeWasmGatherV2, makeWasmSlice, makeWasmSplitV, makeWasmUnpack } from './heap-copy-wasm.js';

export { maxPoolArgmax } from './max-pool.js';

/** Kernels we replace, per backend, and why (printed by `taylorlens doctor`). */
export const KERNEL_FIXES: { backend: string; kernel: string; why: string; make: (b: string) => tf.KernelConfig }[] = [
  { backend: 'wasm', kernel: 'Conv2DBackpropFilter', why: 'missing on wasm', make: makeConv2DBackpropFilter },
  { backend: 'wasm', kernel: 'DepthwiseConv2dNativeBackpropInput', why: 'missing on wasm (DepthwiseConv2D and SeparableConv2D cannot train)', make: makeDepthwiseBackpropInput },
  { backend: 'wasm', kernel: 'DepthwiseConv2dNativeBackpropFilter', why: 'missing on wasm (DepthwiseConv2D and SeparableConv2D cannot train)', make: makeDepthwiseBackpropFilter },
  { backend: 'wasm', kernel: 'UnsortedSegmentSum', why: 'missing on wasm (gather\'s gradient: Embedding cannot train)', make: makeUnsortedSegmentSum },
  { backend: 'wasm', kernel: 'MaxPoolGrad', why: 'wasm drops windows whose maximum is ≤ 0', make: makeMaxPoolGrad },
  { backend: 'wasm', kernel: 'MaxPoolWithArgmax', why: 'wasm picks the wrong cell in windows whose maximum is ≤ 0', make: makeMaxPoolWithArgmax },
  { backend: 'wasm', kernel: 'Slice', why: 'wasm reads the whole input out of its memory for every slice (all of MNIST, 188 MB, per batch a loop slices out of it)', make: makeWasmSlice(wasmStock) },
  { backend: 'wasm', kernel: 'GatherV2', why: 'wasm gathers element by element (2 ms per 64 MNIST images: tfjs\'s shuffled model.fit batches), and wrongly with batchDims > 0', make: makeWasmGatherV2(wasmStock) },
  { backend: 'wasm', kernel: 'SplitV', why: 'wasm\'s split cuts through its whole-input slice, once per part', make: makeWasmSplitV(wasmStock) },
  { backend: 'wasm', kernel: 'Unpack', why: 'wasm\'s unstack cuts through its whole-input slice, once per part', make: makeWasmUnpack(wasmStock) },
  { backend: 'cpu', kernel: 'Conv2DBackpropFilter', why: 'stock cpu kernel takes seconds per step on a small convnet', make: makeConv2DBackpropFilter },
  { backend: 'webgpu', kernel: 'MaxPoolGrad', why: 'webgpu sends a tied window\'s gradient to its last maximum, cpu and TensorFlow to the first', make: makeWebgpuMaxPoolGrad },
  { backend: 'webgpu', kernel: 'MaxPoolWithArgmax', why: 'webgpu picks the last of tied maxima, cpu and TensorFlow the first', make: makeWebgpuMaxPoolWithArgmax },
  { backend: 'webgpu', kernel: 'Tile', why: 'webgpu tiles rank ≥ 5 on the host with a synchronous read, which Node cannot do', make: makeWebgpuTile },
];

const stock = new Map<string, tf.KernelConfig>();

/** The stock kernel we replaced (for tests that compare against it), or undefined. */
export function stockKernel(kernel: string, backend: string): tf.KernelConfig | undefined {
  return stock.get(`${backend}/${kernel}`);
}

/** Registers our kernel fixes for every registered backend they apply to. Idempotent. */
export function registerKernelFixes(): void {
  for (const fix of KERNEL_FIXES) {
    const key = `${fix.backend}/${fix.kernel}`;
    if (stock.has(key) || !tf.findBackendFactory(fix.backend)) continue;
    const existing = tf.getKernel(fix.kernel, fix.backend);
    if (existing && (existing as { taylorlens?: boolean }).taylorlens) continue;
    stock.set(key, existing ?? { kernelName: fix.kernel, backendName: fix.backend, kernelFunc: missing(fix.kernel, fix.backend) });
    if (existing) tf.unregisterKernel(fix.kernel, fix.backend);
    tf.registerKernel(Object.assign(fix.make(fix.backend), { taylorlens: true }));
  }
}

function wasmStock(kernel: string): tf.KernelConfig | undefined {
  return stockKernel(kernel, 'wasm');
}

function missing(kernel: string, backend: string): tf.KernelFunc {
  return () => { throw new Error(`stock ${backend} has no ${kernel}`); };
}
