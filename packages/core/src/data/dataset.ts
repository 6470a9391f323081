/**
 * In-memory image classification data, as every reader here returns it:
 * images NHWC float32 scaled to [0, 1], labels as class indices.
 */
export interface ImageDataset {
  /** count × height × width × channels values, NHWC order, in [0, 1]. */
  images: Float32Array;
  /** count class indices in [0, numClasses). */
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
  /** 1 for MNIST-like, 3 (RGB) for CIFAR-10. */
  channels: number;
  numClasses: number;
  /** The files read to build it (absolute paths), for provenance; absent for data made in memory. */
  files?: string[];
}

/** Bytes 0..255 → float32 in [0, 1] (255 maps to exactly 1). Memory-bound: ~0.2 s for all 47M MNIST train pixels. */
export function scaleBytes(src: Uint8Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] / 255;
  return out;
}
