import * as tf from '@tensorflow/tfjs-core';
import { stockKernel } from './index.js';

/**
 * Tile for webgpu at rank ≥ 5. The stock kernel's GPU program stops at rank 4 and hands higher
 * ranks to a CPU loop that reads the input synchronously, which in Node (no OffscreenCanvas)
 * throws. Tiling one axis at a time keeps it on the GPU: with a = Π shape[<i], s = shape[i],
 * b = Π shape[>i], tiling axis i r times is the stock rank-3 tile of [a, s, b] by [1, r, 1].
 * Lower ranks and strings go to the stock kernel.
 */
interface BackendLike extends tf.KernelBackend {
  disposeData(dataId: object): boolean;
}

export function makeWebgpuTile(backendName: string): tf.KernelConfig {
  const call = (name: string, inputs: tf.NamedTensorInfoMap, backend: tf.KernelBackend, attrs: tf.NamedAttrMap): tf.TensorInfo => {
    // The stock Tile is looked up when called: registerKernelFixes stores it before installing us.
    const k = name === 'Tile' ? stockKernel('Tile', backendName) : tf.getKernel(name, backendName);
    if (!k) throw new Error(`backend ${backendName} lacks ${name}, needed by Tile`);
    return k.kernelFunc({ inputs, backend, attrs }) as tf.TensorInfo;
  };
  const kernelFunc: tf.KernelFunc = ({ inputs, backend: anyBackend, attrs }) => {
    const backend = anyBackend as BackendLike;
    const { x } = inputs as { x: tf.TensorInfo };
    const reps = (attrs as unknown as { reps: number[] }).reps;
    if (x.shape.length < 5 || x.dtype === 'string') return call('Tile', { x }, backend, attrs ?? {});
    let cur = call('Identity', { x }, backend, {});
    for (let i = 0; i < reps.length; i++) {
      if (reps[i] === 1) continue;
      const shape = cur.shape;
      const a = shape.slice(0, i).reduce((p, s) => p * s, 1);
      const after = shape.slice(i + 1).reduce((p, s) => p * s, 1);
      const flat = call('Reshape', { x: cur }, backend, { shape: [a, shape[i], after] });
      const tiled = call('Tile', { x: flat }, backend, { reps: [1, reps[i], 1] });
      const next = call('Reshape', { x: tiled }, backend, { shape: shape.map((s, j) => (j === i ? s * reps[i] : s)) });
      for (const t of [cur, flat, tiled]) backend.disposeData(t.dataId);
      cur = next;
    }
    return cur;
  };
  return { kernelName: 'Tile', backendName, kernelFunc };
}
