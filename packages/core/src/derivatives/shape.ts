/**
 * Layers that are linear maps of their input with nothing to freeze: reshaping, padding,
 * cropping, nearest/bilinear up-sampling, average pooling. The push is the layer itself applied
 * to the directions (zero padding pads directions with zeros, as it must), except where tfjs's
 * gradient of the layer's op is wrong (average pooling with 'same' padding, up-sampling): there
 * the same map is written with ops whose gradients are right, so that the pull (reverse mode)
 * is the push's transpose.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Layer, LayerDerivatives, PushShape } from './types.js';
import { only, perDirection } from './util.js';

function linearLayer(kind: string): LayerDerivatives {
  return {
    kind,
    push(layer, _state, d, s) {
      const di = only(d);
      return di ? perDirection(di, s, s.inputShapes[0], (flat) => layer.apply(flat) as tf.Tensor) : null;
    },
  };
}

/**
 * Average pooling with 'same' padding. tfjs's forward divides each window by the number of its
 * cells inside the input, but its AvgPoolGrad (cpu and wasm, tfjs 4.22) divides by the whole
 * window: reverse mode through `layer.apply` would not be the transpose of the push. So the
 * push is written with ops whose gradients are right: the zero-padded direction pooled 'valid'
 * (sum / window), divided by the constant share of each window inside the input.
 */
function averagePooling(kind: string): LayerDerivatives {
  const fallback = linearLayer(kind);
  return {
    kind,
    push(layer, state, d, s) {
      const cfg = layer.getConfig() as { padding?: string; dataFormat?: string };
      if (cfg.padding !== 'same') return fallback.push(layer, state, d, s);
      const di = only(d);
      if (!di) return null;
      const oneD = layer.getClassName() === 'AveragePooling1D';
      const first = cfg.dataFormat === 'channelsFirst';
      const c = poolConfigOf(layer, oneD);
      const inShape: number[] = oneD ? [s.inputShapes[0][0], 1, s.inputShapes[0][1]] : s.inputShapes[0];
      let flat = tf.reshape<tf.Rank>(di, [s.B * s.K, ...inShape]) as tf.Tensor4D;
      if (first) flat = tf.transpose(flat, [0, 2, 3, 1]);
      const [, H, W, C] = flat.shape;
      const { padInfo } = tf.backend_util.computePool2DInfo([1, H, W, C] as [number, number, number, number], c.size, c.strides, 1, 'same');
      const pads: [number, number][] = [[0, 0], [padInfo.top, padInfo.bottom], [padInfo.left, padInfo.right], [0, 0]];
      const share = tf.avgPool(tf.pad(tf.ones([1, H, W, 1]), pads) as tf.Tensor4D, c.size, c.strides, 'valid');
      const out = tf.div(tf.avgPool(tf.pad(flat, pads) as tf.Tensor4D, c.size, c.strides, 'valid'), share);
      return tf.reshape(first ? tf.transpose(out, [0, 3, 1, 2]) : out, [s.B, s.K, ...s.outputShape]);
    },
  };
}

/** Pool size and strides of an average-pooling layer (a 1-D one as tfjs-layers runs it: `[T, 1]`). */
function poolConfigOf(layer: Layer, oneD: boolean): { size: [number, number]; strides: [number, number] } {
  const cfg = layer.getConfig() as { poolSize: number | number[]; strides?: number | number[] | null };
  const pair = (v: number | number[]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1] ?? v[0]]);
  if (oneD) {
    const k = Array.isArray(cfg.poolSize) ? cfg.poolSize[0] : cfg.poolSize;
    const st = cfg.strides === undefined || cfg.strides === null ? k : Array.isArray(cfg.strides) ? cfg.strides[0] : cfg.strides;
    return { size: [k, 1], strides: [st, 1] };
  }
  const size = pair(cfg.poolSize);
  return { size, strides: cfg.strides === undefined || cfg.strides === null ? size : pair(cfg.strides) };
}

/**
 * `[n_out, n_in]`: the resize of one axis, read off the layer's own forward op on a basis (so the
 * rounding of the source index is tfjs's own). Nearest and bilinear resizes are separable.
 */
function resizeMatrix(resize: (t: tf.Tensor4D, size: [number, number]) => tf.Tensor4D, n: number, factor: number, axis: 'height' | 'width'): tf.Tensor2D {
  return tf.tidy(() => {
    const basis = tf.eye(n); // channel c holds e_c along the axis
    if (axis === 'height') return tf.reshape(resize(tf.reshape(basis, [1, n, 1, n]) as tf.Tensor4D, [n * factor, 1]), [n * factor, n]) as tf.Tensor2D;
    return tf.reshape(resize(tf.reshape(basis, [1, 1, n, n]) as tf.Tensor4D, [1, n * factor]), [n * factor, n]) as tf.Tensor2D;
  });
}

/**
 * UpSampling2D as two matrix products. tfjs's own gradients of its resizes are wrong on cpu for
 * non-square inputs (ResizeNearestNeighborGrad sums the wrong cells; ResizeBilinearGrad swaps
 * height and width and throws), so reverse mode through `layer.apply` is not the transpose of
 * the push there; `out = R_h · d · R_wᵀ` (per sample and channel) has exact gradients everywhere.
 */
const upSampling: LayerDerivatives = {
  kind: 'UpSampling2D',
  push(layer, _state, d, s: PushShape) {
    const di = only(d);
    if (!di) return null;
    const cfg = layer.getConfig() as { size?: number[]; dataFormat?: string; interpolation?: string };
    const [fh, fw] = cfg.size ?? [2, 2];
    const first = cfg.dataFormat === 'channelsFirst';
    const resize = cfg.interpolation === 'bilinear'
      ? (t: tf.Tensor4D, size: [number, number]) => tf.image.resizeBilinear(t, size)
      : (t: tf.Tensor4D, size: [number, number]) => tf.image.resizeNearestNeighbor(t, size);
    let x = tf.reshape(di, [s.B * s.K, ...s.inputShapes[0]]);
    if (first) x = tf.transpose(x, [0, 2, 3, 1]);
    const [N, H, W, C] = x.shape;
    const Rh = resizeMatrix(resize, H, fh, 'height');
    const Rw = resizeMatrix(resize, W, fw, 'width');
    // [N, H, W, C] → [N·W·C, H] · R_hᵀ → [N, Hs, C, W] → · R_wᵀ → [N, Hs, Ws, C]
    const alongH = tf.matMul(tf.reshape(tf.transpose(x, [0, 2, 3, 1]), [-1, H]), Rh, false, true);
    const hFirst = tf.transpose(tf.reshape(alongH, [N, W, C, H * fh]), [0, 3, 2, 1]);
    const alongW = tf.matMul(tf.reshape(hFirst, [-1, W]), Rw, false, true);
    let out = tf.transpose(tf.reshape(alongW, [N, H * fh, C, W * fw]), [0, 1, 3, 2]);
    if (first) out = tf.transpose(out, [0, 3, 1, 2]);
    return tf.reshape(out, [s.B, s.K, ...s.outputShape]);
  },
};

export const LINEAR_LAYERS: Record<string, LayerDerivatives> = {
  ...Object.fromEntries([
    'Flatten', 'Reshape', 'Permute', 'ZeroPadding2D', 'Cropping2D', 'RepeatVector',
    'AveragePooling3D', 'GlobalAveragePooling1D', 'GlobalAveragePooling2D',
  ].map((c) => [c, linearLayer(c)])),
  AveragePooling1D: averagePooling('AveragePooling1D'),
  AveragePooling2D: averagePooling('AveragePooling2D'),
  UpSampling2D: upSampling,
};
