/** Turn an ImageDataset into tfjs tensors (the only file in data/ that needs tfjs). */
import * as tf from '@tensorflow/tfjs-core';
import type { ImageDataset } from './dataset.js';

export interface ToTensorsOptions {
  /** x as [N, H·W·C] (784 for MNIST) instead of [N, H, W, C]. */
  flatten?: boolean;
  /** Labels as one-hot float32 [N, oneHot]; otherwise int32 class indices [N]. */
  oneHot?: number;
}

/**
 * x: float32 [N, H, W, C] (MNIST [N,28,28,1], CIFAR [N,32,32,3]) or [N, H·W·C] when flattened.
 * y: int32 [N] indices, or float32 [N, oneHot] one-hot. The caller owns (and disposes) both.
 * On the cpu backend x may share memory with ds.images (no 188 MB copy for MNIST): don't mutate it.
 */
export function toTensors(ds: ImageDataset, opts: ToTensorsOptions = {}): { x: tf.Tensor; y: tf.Tensor } {
  const { count: n, height: h, width: w, channels: c } = ds;
  if (ds.images.length !== n * h * w * c) {
    throw new Error(`toTensors: images has ${ds.images.length} values, expected ${n}×${h}×${w}×${c} = ${n * h * w * c}`);
  }
  if (ds.labels.length !== n) throw new Error(`toTensors: ${ds.labels.length} labels for ${n} images`);
  const xShape = opts.flatten ? [n, h * w * c] : [n, h, w, c];
  if (opts.oneHot === undefined) {
    return { x: tf.tensor(ds.images, xShape, 'float32'), y: tf.tensor1d(Int32Array.from(ds.labels), 'int32') };
  }
  const k = opts.oneHot;
  if (!Number.isInteger(k) || k < 1) throw new Error(`toTensors: oneHot must be a positive integer (the class count), got ${k}`);
  const hot = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    const label = ds.labels[i];
    if (label >= k) throw new Error(`toTensors: label ${label} at index ${i} does not fit oneHot: ${k} (expected 0–${k - 1})`);
    hot[i * k + label] = 1;
  }
  return { x: tf.tensor(ds.images, xShape, 'float32'), y: tf.tensor2d(hot, [n, k], 'float32') };
}
